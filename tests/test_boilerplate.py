"""Boilerplate removal: rules as data, site-repeated lines, the line classifier, accounting."""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
import regex
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.clean.boilerplate import CleanContext, clean_lines
from pipeline.clean.lineclass import ClassifierSettings, Stoplists, main_text
from pipeline.clean.rules import RulesError, SiteLineSettings, load_rules
from pipeline.clean.sitelines import SiteCounts, line_hashes_of_texts, line_key, page_keys, page_keys_of_texts
from pipeline.text import has_more_words, squeeze_spaces, word_count
from tests.conftest import SAMPLES, Night

RULES = load_rules()


def rule(name: str):
    return next(r for r in RULES.rules if r.name == name)


def clean(lines: list[str], url: str | None = None, file: str = "page.jsonl", **context) -> tuple[list[str], dict]:
    result = clean_lines(None, lines, list(range(1, len(lines) + 1)), CleanContext(RULES, **context), url, file)
    return [line for line in result.text.split("\n") if line], {r.line: r.rule for r in result.removed}


# --- rules are data -------------------------------------------------------------------------


def test_every_rule_has_a_name_and_a_reason():
    assert len(RULES.rules) >= 10
    assert all(r.name and len(r.comment) > 10 for r in RULES.rules)
    assert len({r.name for r in RULES.rules}) == len(RULES.rules)


@pytest.mark.parametrize(
    "name, boilerplate, sentence",
    [
        ("advertisement", "ADVERTISEMENT", "The advertisement ran in three papers before the vote."),
        ("share_widget", "Share on Facebook Share on Twitter Email", "She did not share the report with the board."),
        ("follow_prompt", "Follow us on Twitter", "Follow the money, the auditor told the committee."),
        ("subscribe_prompt", "Sign up for our daily newsletter", "Residents can sign the petition until Friday."),
        ("related_links", "Related stories", "Related charges were dropped in March."),
        ("copyright", "© 2026 Varn Gazette. All rights reserved.", "Copyright law was the subject of a long debate."),
        ("cookie_notice", "We use cookies to improve your experience.", "The bakery sold cookies at the market."),
        ("byline", "By Marta Olsen and Piet Danner, Reuters", "By the time police arrived the crowd had gone."),
        ("dateline", "Updated: 27 November 2026 10:45 GMT", "December 31, 2004"),
        ("legal_links", "Privacy Policy", "The privacy policy of the council was criticised."),
        ("comments_header", "12 Comments", "Comments by the mayor angered residents."),
        ("comments_header", "34 responses to “Ferry terminal approved”", "Responses to the survey were mixed."),
        ("comments_header", "[ 167 comments ]", "Readers left 167 comments under the story."),
        ("comment_byline", "Jane Roe on May 2, 2026 at 4:47 pm said:", "The minister says:"),
        ("comment_byline", "harbourfan77 says:", "The mayor said on Tuesday at 4:30 pm that work would start."),
        ("photo_credit", "Photo: Reuters", "The photo was taken by a passer-by on Monday."),
    ],
)
def test_rule_removes_boilerplate_but_not_sentences(name, boilerplate, sentence):
    assert rule(name).matches(boilerplate)
    assert not rule(name).matches(sentence)


def test_photo_credits_are_moved_into_captions():
    result = clean_lines(
        None, ["The mayor opened the new bridge on Monday, ending years of debate about its cost.",
               "The mayor cuts the ribbon. Photo: Varn Gazette"],
        [1, 2], CleanContext(dataclasses.replace(RULES, classifier=ClassifierSettings(enabled=False))),
    )
    assert result.captions == ["The mayor cuts the ribbon. Photo: Varn Gazette"]
    assert [(r.rule, r.line) for r in result.removed] == [("photo_credit", 2)]


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_site_rules_and_markers_need_no_code(tmp_path):
    path = write_rules(tmp_path, """
[[sites]]
match = "host:gazette.example"
comment = "the Gazette's print-edition teaser"
marker = "##"
[[sites.rules]]
name = "gazette_teaser"
comment = "teaser box for the print edition"
pattern = '^in tomorrow.s paper'
[[sites]]
match = "file:wire/*.txt"
comment = "the wire dumps"
[[sites.rules]]
name = "wire_slug"
comment = "slug lines of the wire service"
pattern = '^slug: '
""")
    config = load_rules(path)
    assert config.for_source("https://www.gazette.example/a", "x.jsonl")[0] == "##"
    assert [r.name for r in config.for_source("https://news.gazette.example/a", "x")[1]] == ["gazette_teaser"]
    assert [r.name for r in config.for_source(None, "wire/0001.txt")[1]] == ["wire_slug"]
    assert config.for_source("https://other.example/a", "x.txt") == ("TT", ())


def test_rule_set_lists_for_each_word_count_the_rules_that_reach_it():
    import dataclasses

    config = load_rules()
    rule_set = config.rule_set(None, "dump.txt")
    assert rule_set.longest == max(rule.max_words for rule in config.rules) == 60
    assert [r.name for r in rule_set.by_words[5]] == [r.name for r in config.rules]  # every rule reaches 5 words
    assert [r.name for r in rule_set.by_words[6]] == [r.name for r in config.rules if r.name != "site_navigation"]
    assert [r.name for r in rule_set.by_words[31]] == ["cookie_notice", "photo_credit"]
    assert config.rule_set(None, "other.txt") is rule_set  # made once per combination of sites
    assert dataclasses.replace(config, rules=()).rule_set(None, "dump.txt").by_words == ((),)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[rules]]\nname = 'x'\npattern = 'y'\n", "lacks comment"),
        ("[[rules]]\nname = 'x'\ncomment = 'c'\npattern = '(unclosed'\n", "bad pattern"),
        ("[[rules]]\nname = 'x'\ncomment = 'c'\npattern = 'y'\ncolour = 'red'\n", "unknown keys"),
        ("[[rules]]\nname = 'caption'\ncomment = 'c'\npattern = 'y'\n", "built-in rules' names"),
        ("[classifier]\nreech = 3\n", "unknown settings"),
        ("[[sites]]\nmatch = 'example.com'\ncomment = 'c'\n", "needs match"),
        ("[html]\nfavor_precision = 'yes'\n", r"\[html\]: favor_precision = 'yes': must be true or false"),
        ("[html]\nfavor_recall = true\n", r"\[html\]: favor_precision and favor_recall: at most one"),
        ("[[rules]]\nname = 'x'\ncomment = 'c'\npattern = 'y'\nbarrier = 'yes'\n", "barrier must be true or false"),
        ("[classifier]\necho_share = 90\n", r"\[classifier\]: echo_share = 90: must be between 0 and 1"),
    ],
)
def test_a_wrong_rules_file_is_a_clear_error_naming_it(tmp_path, text, message):
    path = write_rules(tmp_path, text)
    with pytest.raises(RulesError, match=message) as error:
        load_rules(path)
    assert str(path) in str(error.value)


# --- lines a site repeats ------------------------------------------------------------------


def site_pages(n: int, menu: str = "Home News Sport Weather") -> list[list[str]]:
    return [[menu, f"Story {i} tells of the harbour, the council and the {i}th vote on the ferry."] for i in range(n)]


def test_site_lines_thresholds():
    settings = RULES.site_lines
    assert (settings.share, settings.min_pages, settings.min_site_pages) == (0.3, 3, 5)
    small = SiteCounts()
    for page in site_pages(4):
        small.add("small.example", page)
    assert small.boilerplate(settings) == {}  # fewer than 5 pages: nothing is boilerplate
    big = SiteCounts()
    for i, page in enumerate(site_pages(10)):
        big.add("big.example", page + (["Shared on three pages."] if i < 3 else []) + (["On two."] if i < 2 else []))
    assert big.boilerplate(settings) == {"big.example": {line_key("Home News Sport Weather"),
                                                         line_key("Shared on three pages.")}}


def test_recaptures_of_one_story_count_once():
    counts = SiteCounts()
    for _ in range(10):
        counts.add("one.example", ["Menu", "The same long story, captured again and again by the scraper."])
    assert counts.pages == {"one.example": 1}
    assert counts.boilerplate(RULES.site_lines) == {}


def test_site_lines_from_recent_nights_are_used(tmp_path):
    night = Night(tmp_path, "2026-11-26")
    menu = "Home | Politics | Business | Sport | Culture"
    for date, first in (("2026-11-26", 0), ("2026-11-27", 3)):
        records = [
            {"id": f"p{i}", "url": f"https://small.example/{i}",
             "text": f"{menu}\nStory {i} says the harbour authority voted to build the terminal, "
                     f"after a debate that lasted {i + 2} hours and ended late on Tuesday night."}
            for i in range(first, first + 3)
        ]
        night.date = date
        (night.raw_dir / date).mkdir(parents=True, exist_ok=True)
        (night.raw_dir / date / "feed.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        assert night.run()
    # 3 pages tonight are too few alone; with last night's 3, the menu is site boilerplate.
    removed = night.records("removed.jsonl")
    assert {(r["rule"], r["text"]) for r in removed} == {("site_repeated_line", menu)}
    assert len(removed) == 3
    assert all(menu not in a["text"] for a in night.records("articles.jsonl"))


# --- the line classifier --------------------------------------------------------------------

PAGE = [
    "Varn Gazette - Ferry terminal approved",
    "News",
    "Sport",
    "Culture",
    "Log in",
    "Ferry terminal approved after six years",
    "The Varn Port Authority on Thursday approved the construction of a new ferry terminal on the "
    "northern shore of the lake, ending a planning dispute that had lasted almost six years.",
    "The terminal will replace the wooden pier built in 1958 and should open in the spring of 2028.",
    "\"This is the most important investment in the lake's transport network for a generation,\" "
    "said the chair of the authority's board.",
    "Most read",
    "Council delays vote on water tariffs",
    "Museum returns bronze statues",
    "Privacy Policy",
    "Contact us",
]


def test_classifier_keeps_the_article_of_a_whole_page():
    kept, removed = clean(PAGE, url="https://varn-gazette.example/ferry")
    assert kept == PAGE[5:9]  # the article's own headline, then its paragraphs
    assert removed == {
        1: "outside_main_text", 2: "outside_main_text", 3: "outside_main_text", 4: "outside_main_text",
        5: "subscribe_prompt", 10: "related_links", 11: "outside_main_text",
        12: "outside_main_text", 13: "legal_links", 14: "legal_links",
    }


def test_clean_article_text_is_left_alone():
    text = [
        "Officials said the work would start in March.",
        "Ingredients",
        "2 cups flour, 1 egg",
        "Beachfront Hotel Reopens",
        "The hotel reopened on Friday after a year of repairs.",
    ]
    assert clean(text) == (text, {})  # no boilerplate evidence: the classifier stays out


def test_non_english_pages_keep_their_text():
    german = [
        "Startseite", "Politik", "Sport", "Impressum",
        "Der Stadtrat hat am Dienstag nach langer Debatte den neuen Haushalt beschlossen, der vor allem "
        "die Reparatur der alten Brücke vorsieht.",
        "Die Arbeiten sollen im März beginnen und etwa ein Jahr dauern, sagte die Bürgermeisterin.",
        "Datenschutz",
    ]
    keep = main_text(german, RULES.classifier, Stoplists.default())
    assert sorted(keep) == [4, 5]
    russian = [
        "Главная", "Новости", "Спорт",
        "Городской совет во вторник после долгих споров утвердил новый бюджет, который прежде всего "
        "предусматривает ремонт старого моста.",
        "Работы начнутся в марте и продлятся около года, сказала мэр города.",
        "Контакты",
    ]
    assert sorted(main_text(russian, RULES.classifier, Stoplists.default())) == [3, 4]


def test_tables_and_lists_inside_the_text_are_kept():
    page = ["Home", "News", "Results of the regional cup on Tuesday were decided by late goals in both games.",
            "| Team | Goals |", "| Varn United | 3 |", "| Kessel | 1 |",
            "The final will be played in the capital on Saturday, the federation said."]
    assert sorted(main_text(page, RULES.classifier, Stoplists.default())) == [2, 3, 4, 5, 6]


# --- accounting -----------------------------------------------------------------------------


def test_every_removed_line_is_accounted_for(corpora):
    import gzip

    with gzip.open(corpora / "boilerplate" / "scrapinghub_aeb.jsonl.gz") as handle:
        pages = [orjson.loads(line) for line in handle][:40]
    for page in pages:
        lines = page["fulltext"].split("\n")
        result = clean_lines(None, lines, list(range(len(lines))), CleanContext(RULES), page["url"], "p.jsonl")
        kept = [line.rstrip() for line in result.text.split("\n") if line.strip()]
        removed = [lines[r.line].rstrip() for r in result.removed]
        assert Counter(kept + removed) == Counter(line.rstrip() for line in lines if line.strip())
        assert all(r.text == lines[r.line] for r in result.removed)


def test_too_short_after_cleaning_is_rejected_with_the_reason(night):
    night.add("video.jsonl", orjson.dumps({
        "id": "video-1", "url": "https://varn-gazette.example/video",
        "text": "Home\nVideo\nWatch: the ferry arrives\nShare on Facebook\nPrivacy Policy",
    }) + b"\n")
    assert night.run()
    assert night.records("articles.jsonl") == []
    (rejected,) = night.records("rejected.jsonl")
    assert (rejected["id"], rejected["stage"]) == ("video-1", "clean")
    assert rejected["reason"].startswith("too short after cleaning:") and "minimum 20" in rejected["reason"]
    assert {r["rule"] for r in night.records("removed.jsonl")} >= {"share_widget", "legal_links"}


# --- measured on the boilerplate corpora, through the Luigi chain ---------------------------


@pytest.fixture(scope="module")
def corpus_scores():
    from tests.conftest import CORPORA, require

    require(CORPORA / "boilerplate")
    from bench.boilerplate import evaluate

    return evaluate(direct=False)


@pytest.mark.parametrize("name, target", [("scrapinghub_aeb", 0.87), ("cleanportaleval", 0.93), ("cleaneval_dev", 0.92)])
def test_fulltext_f1(corpus_scores, name, target):
    scores = corpus_scores[(name, "fulltext")]
    assert scores["cleaned"]["f1"] >= target
    assert scores["cleaned"]["f1"] > scores["baseline"]["f1"]


@pytest.mark.parametrize("name", ["scrapinghub_aeb", "cleanportaleval", "cleaneval_dev"])
def test_extract_precision_up_f1_not_down(corpus_scores, name):
    scores = corpus_scores[(name, "extract")]
    assert scores["cleaned"]["precision"] > scores["baseline"]["precision"]
    assert scores["cleaned"]["f1"] >= scores["baseline"]["f1"]


@pytest.mark.parametrize("field", ["fulltext", "extract"])
def test_trafilatura_must_keep_kept_and_must_drop_removed(corpus_scores, field):
    scores = corpus_scores[("trafilatura_eval_en", field)]
    cleaned, baseline = scores["cleaned"], scores["baseline"]
    assert cleaned["must_keep_kept"] / cleaned["must_keep"] >= (0.96 if field == "fulltext" else 0.95)
    assert cleaned["must_drop_removed"] > baseline["must_drop_removed"]
    if field == "fulltext":  # issue 19's targets
        assert cleaned["must_drop_removed"] / cleaned["must_drop"] >= 0.65


def test_rule_preconditions_never_hide_a_match(corpora):
    import gzip

    lines = set()
    for name in ("scrapinghub_aeb", "cleanportaleval", "trafilatura_eval_en"):
        with gzip.open(corpora / "boilerplate" / f"{name}.jsonl.gz") as handle:
            for page in map(orjson.loads, handle):
                lines.update(line.strip() for line in page["fulltext"].split("\n") if line.strip())
    checked = 0
    for r in RULES.rules:
        if not r.contains:
            continue
        for line in lines:
            if r.pattern.search(line):
                checked += 1
                assert any(word in line.lower() for word in r.contains), (r.name, line)
    assert checked > 100


def test_code_defaults_are_the_tuned_settings_of_the_rules_file():
    assert RULES.classifier == ClassifierSettings()
    assert RULES.site_lines == SiteLineSettings()


def test_squeeze_spaces_is_split_and_join_for_every_whitespace_character():
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(spaces) == 29
    for space in spaces:
        for line in (f"two{space}words", f"{space}lead", f"trail{space}", f"a {space} b", space):
            assert squeeze_spaces(line) == " ".join(line.split()), repr(line)
    assert squeeze_spaces("Sevilla’s café, 3–1.") == "Sevilla’s café, 3–1."


LINE_TEXTS = (
    st.text(alphabet=" \t\x0b\x0c\r\x1c\x1d\x1e\x1f\nAbZz09.,’“—£éÉßΣσ\u00a0\u2003\u2028\u0130\U0001f600\u0301")
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)))
)


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE_TEXTS, max_size=5))
def test_compiled_line_hashes_are_the_definition(texts):
    expected = [[xxhash.xxh64_intdigest(" ".join(line.split()).casefold().encode()) for line in text.split("\n")]
                for text in texts]
    assert [h.tolist() for h in line_hashes_of_texts(texts)] == expected


def test_compiled_line_hashes_for_every_character_of_the_first_plane():
    # Each character alone, between words, doubled and beside spaces: folded or left
    # to the definition, never hashed wrong.
    points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and c != 0x0A]
    texts = ["\n".join(f"{ch}|a{ch}b| {ch}{ch} |x {ch}|{ch.upper()}" for ch in map(chr, points[k : k + 500]))
             for k in range(0, len(points), 500)]
    found = line_hashes_of_texts(texts)
    for text, hashes in zip(texts, found):
        lines = text.split("\n")
        assert hashes.tolist() == [xxhash.xxh64_intdigest(" ".join(line.split()).casefold().encode())
                                   for line in lines]


# Lines that tie on their stripped length, so that the story key is chosen among them.
TIED_TEXTS = st.lists(st.sampled_from(["ab", "ba", " ab", "AB", "ab ", "", " ", "Menu", "menu", "é", "x\ty"]),
                      max_size=6).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE_TEXTS | TIED_TEXTS, max_size=6))
def test_page_keys_of_a_chunk_are_each_pages_keys(texts):
    assert page_keys_of_texts(texts) == [page_keys(text.split("\n")) for text in texts]


def test_page_keys_of_a_chunk_on_the_sample_dumps():
    # Whole dumps as texts: many pages' lines, menus and blank lines between them.
    texts = [path.read_bytes().decode("utf-8", "replace") for path in sorted(SAMPLES.rglob("*.txt"))]
    texts += [piece for text in texts for piece in text.split("\n\n")]
    assert len(texts) >= 10
    found = page_keys_of_texts(texts)
    assert found == [page_keys(text.split("\n")) for text in texts]
    assert sum(page is None for page in found) >= 1 and sum(page is not None for page in found) >= 30


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text())
def test_word_count_is_the_regex_count(text):
    count = len(regex.findall(r"\w+", text))
    assert word_count(text) == count
    assert [word_count(text, limit) for limit in range(4)] == [min(count, limit + 1) for limit in range(4)]
    assert [has_more_words(text, limit) for limit in range(4)] == [count > limit for limit in range(4)]


def test_a_long_texts_word_count_under_a_limit_is_read_from_its_head_when_that_is_enough():
    # The head is 16 characters a word of the limit: words that straddle its end, texts of
    # spaces only past it, and counts just under, at and over the limit.
    texts = ["word " * 40, "a" * 15 + " " + "b" * 40 + " c", " " * 70 + "late words here", "x," * 50,
             "one " * 3 + " " * 200, "é " * 5 + "ascii then", "It's 3 o'clock -- U.S. troops, 3rd_wave " * 6]
    for text in texts:
        count = len(regex.findall(r"\w+", text))
        for limit in (0, 1, 2, 3, 4, 5, 19, count - 1, count, count + 1):
            if limit >= 0:
                assert word_count(text, limit) == min(count, limit + 1), (text[:20], limit)
                assert has_more_words(text, limit) == (count > limit)


# --- the classifier's structure: sentence ends, the headline, repeated lines ---------------------


@pytest.mark.parametrize("line, ends", [
    ("Lenexa company hopes to bring HIV treatment to market [Kansas City]", False),
    ("Full article US cinema gunman 'had violent past'", False),
    ("The council met on Tuesday (Reuters).", True),
    ("\"We will build it,\" she said.", True),
    ("Here are some of the highlights:", True),
    ("会议于周二举行。", True),
])
def test_a_sentence_ends_with_its_punctuation_not_with_a_bracket(line, ends):
    from pipeline.clean.lineclass import features

    assert features(line, frozenset()).sentence_end is ends


PAGE_WITH_TITLE = [
    "Valley council backs new footbridge | The Valley Post",
    "Home", "News", "Sport", "Weather", "Subscribe",
    "Valley council backs new footbridge",
    "By Mara Ellison",
    "Councillors in Varnley voted by nine to two on Thursday evening to build a footbridge over the "
    "river, linking the station to the market square for the first time since the old bridge was closed.",
    "The bridge will cost the town about four million pounds, most of it from a regional fund, and "
    "work is to start in the spring if the planning inspector agrees with the council's plans.",
    "Privacy", "Contact us",
]


def test_the_pages_headline_is_kept_when_it_comes_just_before_the_article():
    import dataclasses

    from pipeline.clean.lineclass import Stoplists, main_text

    settings = load_rules().classifier
    assert sorted(main_text(PAGE_WITH_TITLE, settings, Stoplists.default(), lang="en")) == [6, 8, 9]
    off = dataclasses.replace(settings, headline_reach=0)
    assert sorted(main_text(PAGE_WITH_TITLE, off, Stoplists.default(), lang="en")) == [8, 9]


def test_a_line_repeating_an_earlier_one_is_no_evidence_of_the_article():
    import dataclasses

    from pipeline.clean.lineclass import Stoplists, main_text

    teaser = ("Read more: the harbour wall will be rebuilt this winter, the council said after its meeting "
              "on Thursday, and the work will take four months to finish.")
    page = PAGE_WITH_TITLE[:10] + ["Related", teaser, "Related", teaser, "Related", teaser] + PAGE_WITH_TITLE[10:]
    settings = dataclasses.replace(load_rules().classifier, repeated_words=6)
    # The teaser once is a good paragraph near the article; its repeats are not.
    assert sorted(main_text(page, settings, Stoplists.default(), lang="en")) == [6, 8, 9, 10, 11]
    off = dataclasses.replace(settings, repeated_words=0, echo_share=0)  # and echoes (below) off
    assert 15 in main_text(page, off, Stoplists.default(), lang="en")


# --- the classifier's structure: echoes, barriers, comments, tables, unspaced scripts ------

TEASERS = [
    "Harbour wall to be rebuilt this winter",
    "Work on the old harbour wall will take four months and cost about two million pounds.",
    "2h ago",
    "New bus routes for the valley towns",
    "Three new bus routes will link the valley towns with the station from January, the transport board said.",
    "5h ago",
    "Library opens on Sundays from next month",
    "The town library will open on Sunday afternoons from December after a vote of the council on Tuesday.",
    "9h ago",
]


def test_the_article_again_in_the_pages_metadata_is_dropped():
    # A page's JSON-LD printed as text: the headline twice, then all the paragraphs in one line.
    page = PAGE_WITH_TITLE[:10] + [
        "Share", PAGE_WITH_TITLE[6], PAGE_WITH_TITLE[6], "Mara Ellison", "2026-11-28T09:00:00+01:00",
        " ".join(PAGE_WITH_TITLE[8:10]), "Privacy", "Contact us",
    ]
    kept, removed = clean(page, url="https://valley-post.example/footbridge")
    assert kept == [PAGE_WITH_TITLE[6]] + PAGE_WITH_TITLE[8:10]
    assert removed[16] == "outside_main_text"  # the article's second copy (line numbers from 1)
    result = clean_lines(None, page, list(range(1, len(page) + 1)), CleanContext(RULES), None, "page.jsonl")
    details = {r.line: r.detail for r in result.removed}
    assert details[16] == "repeats earlier text of the page"
    assert details[12] == details[13] == 'after the main text, which ends at "The bridge will cost the town about four million pounds, mo…"'
    no_echoes = dataclasses.replace(RULES, classifier=dataclasses.replace(RULES.classifier, echo_share=0))
    result = clean_lines(None, page, list(range(1, len(page) + 1)), CleanContext(no_echoes), None, "page.jsonl")
    assert " ".join(PAGE_WITH_TITLE[8:10]) in result.text.split("\n")  # the article twice


def test_a_page_opening_with_its_whole_article_in_one_line_keeps_the_paragraphs():
    summary = " ".join(PAGE_WITH_TITLE[8:10])
    page = PAGE_WITH_TITLE[:8] + [summary] + PAGE_WITH_TITLE[8:]
    kept = main_text(page, RULES.classifier, Stoplists.default(), lang="en")
    assert {8, 9, 10} <= kept  # a paragraph inside a longer earlier line is no echo


def test_teasers_after_the_copyright_line_are_not_the_article():
    page = PAGE_WITH_TITLE[:10] + ["© 2026 The Valley Post. All rights reserved."] + TEASERS[:3]
    kept, removed = clean(page, url="https://valley-post.example/footbridge")
    assert kept == [PAGE_WITH_TITLE[6]] + PAGE_WITH_TITLE[8:10]
    assert removed[11] == "copyright" and removed[12] == removed[13] == removed[14] == "outside_main_text"
    # Without the barrier the teaser's sentence outweighs the copyright line: the setting matters.
    open_page = dataclasses.replace(RULES, classifier=dataclasses.replace(RULES.classifier, barrier_penalty=0))
    result = clean_lines(None, page, list(range(1, len(page) + 1)), CleanContext(open_page), None, "page.jsonl")
    assert TEASERS[1] in result.text.split("\n")


COMMENTS = [
    "3 thoughts on “Valley council backs new footbridge”",
    "harbourfan77 says:",
    "About time. The old bridge has been closed for years and the walk round by the road is dangerous.",
    "Reply",
    "Jane Roe on November 28, 2026 at 4:47 pm said:",
    "Four million pounds for a footbridge seems a lot when the buses are so poor, but I will use it every day.",
    "Reply",
    "Leave a Reply",
]


def test_a_short_comment_after_the_article_is_not_the_article(night, capsys):
    page = PAGE_WITH_TITLE[:10] + COMMENTS[:4] + COMMENTS[7:] + PAGE_WITH_TITLE[10:]
    night.add("pages.jsonl", orjson.dumps({"id": "bridge-1", "url": "https://valley-post.example/footbridge",
                                           "text": "\n".join(page)}) + b"\n")
    assert night.run()
    (article,) = night.records("articles.jsonl")
    assert article["text"].split("\n") == [PAGE_WITH_TITLE[6]] + PAGE_WITH_TITLE[8:10]
    why = {r["text"]: (r["rule"], r.get("detail")) for r in night.records("removed.jsonl")}
    assert why[COMMENTS[0]] == ("comments_header", None) and why[COMMENTS[1]] == ("comment_byline", None)
    assert why[COMMENTS[2]] == ("outside_main_text", 'beyond "3 thoughts on “Valley council backs new footbridge”" '
                                                     "(comments_header), which the main text does not cross")
    assert why[PAGE_WITH_TITLE[2]] == ("outside_main_text",  # the menu, above the subscription prompt
                                       'beyond "Subscribe" (subscribe_prompt), which the main text does not cross')
    # The inspector says why for each line, in the rule's or the classifier's words.
    from pipeline.report.inspector import main as inspect

    assert inspect([str(night.out), "why", "bridge-1"]) == 0
    said = capsys.readouterr().out
    assert "bridge-1 was kept" in said
    assert "line 1: comments_header: Comment section headers and prompts" in said  # the record's line
    assert 'line 1: outside_main_text: beyond "3 thoughts on' in said


def test_cut_at_drops_the_comments_however_long():
    more = ["Mara K on November 28, 2026 at 6:02 pm said:",
            "I walked across the old bridge every morning for twenty years and I have missed it more than I can say, "
            "so I am glad that the council has finally found the money to build a new one for all of us.", "Reply"]
    page = PAGE_WITH_TITLE[:10] + COMMENTS[:7] + more + COMMENTS[7:] + PAGE_WITH_TITLE[10:]
    kept, _ = clean(page, url="https://valley-post.example/footbridge")
    assert COMMENTS[5] in kept  # three long comments outweigh the comments header
    cut = dataclasses.replace(RULES, classifier=dataclasses.replace(RULES.classifier, cut_at=("comments_header",)))
    result = clean_lines(None, page, list(range(1, len(page) + 1)), CleanContext(cut), None, "page.jsonl")
    assert [line for line in result.text.split("\n") if line] == [PAGE_WITH_TITLE[6]] + PAGE_WITH_TITLE[8:10]


BOX_SCORE = [
    "Varn United 3 2 1 0 7 2 7",
    "Kessel Rovers 3 2 0 1 5 3 6",
    "Lakeside 3 1 1 1 4 4 4",
    "Northgate 3 1 0 2 3 5 3",
    "Old Harbour 3 0 2 1 2 4 2",
    "Station Athletic 3 0 1 2 1 4 1",
    "Millbrook 3 0 1 2 2 5 1",
    "Westfield 3 0 0 3 0 7 0",
]


def test_a_table_of_figures_inside_the_article_is_kept():
    before = ("Varn United stayed top of the regional league on Saturday after a late goal from their captain "
              "settled a tense game against Kessel Rovers in front of a crowd of three thousand.")
    after = "The league resumes after the winter break in the second week of February, when the leaders travel north."
    page = ["Home", "Sport", "Results", before, *BOX_SCORE, after, "Privacy Policy", "Contact us"]
    assert sorted(main_text(page, RULES.classifier, Stoplists.default(), lang="en")) == list(range(3, 13))
    # The same figures with no body text after them are the page's, not the article's.
    alone = ["Home", "Sport", before, *BOX_SCORE, "Privacy Policy", "Contact us"]
    assert sorted(main_text(alone, RULES.classifier, Stoplists.default(), lang="en")) == [2]


@pytest.mark.parametrize("lang, page", [
    ("zh", ["首页", "新闻", "体育", "财经",
            "市议会周二经过长时间的讨论，通过了新的年度预算方案，其中大部分资金将用于修复老桥和改善城市的公共交通。",
            "市长表示，工程将在明年三月开始，预计需要一年左右的时间才能完成，在此期间老桥将继续关闭。",
            "联系我们", "网站地图"]),
    ("ja", ["ホーム", "ニュース", "スポーツ", "天気",
            "市議会は火曜日、長い議論の末に新しい予算案を可決した。予算の多くは古い橋の修理に使われる。",
            "市長によると、工事は三月に始まり、およそ一年かかる見込みだという。その間、橋は閉鎖される。",
            "お問い合わせ", "サイトマップ"]),
    ("th", ["หน้าแรก", "ข่าว", "กีฬา", "บันเทิง",
            "สภาเมืองได้อนุมัติงบประมาณใหม่ในวันอังคารหลังจากการอภิปรายเป็นเวลานานเกี่ยวกับค่าซ่อมแซมสะพานเก่า",
            "นายกเทศมนตรีกล่าวว่างานจะเริ่มในเดือนมีนาคมและจะใช้เวลาประมาณหนึ่งปี ในระหว่างนี้สะพานจะยังคงปิดอยู่",
            "ติดต่อเรา", "แผนผังเว็บไซต์"]),
])
def test_pages_in_scripts_without_spaces_keep_their_text(lang, page):
    # A run of these scripts is one \w word: the classifier counts its characters instead.
    assert sorted(main_text(page, RULES.classifier, Stoplists.default(), lang=lang)) == [4, 5]


def test_a_barrier_printed_after_every_item_is_no_barrier():
    # A question and its answers, each followed by the same "Add a comment" line.
    page = ["Why does the ferry stop at Varnley? | Harbour Questions", "Home", "Questions", "Tags",
            "Why does the ferry stop at Varnley?",
            "The ferry from the lake stops at Varnley twice a day, but hardly anyone gets on there. Why?",
            "Add a comment",
            "Because the mail for the valley is loaded there, the stop is in the contract with the post office.",
            "Add a comment",
            "It is also where the crew changes, since most of them live in the town.",
            "Add a comment",
            "The council pays for the stop, so it will stay until the new road is built.",
            "Add a comment",
            "Privacy Policy", "Contact us"]
    kept, removed = clean(page, url="https://questions.example/ferry")
    assert kept == [page[4], page[5], page[7], page[9], page[11]]
    assert {removed[n] for n in (7, 9, 11, 13)} == {"comments_header"}
    no_limit = dataclasses.replace(RULES, classifier=dataclasses.replace(RULES.classifier, barrier_repeats=0))
    result = clean_lines(None, page, list(range(1, len(page) + 1)), CleanContext(no_limit), None, "page.jsonl")
    assert page[9] not in result.text.split("\n")  # each answer alone is worth less than a barrier


def test_a_rule_set_remembers_its_rules_answers(monkeypatch):
    from pipeline.clean import rules as rules_module

    monkeypatch.setattr(rules_module, "MEMO_LINES", 40)
    rule_set = load_rules().rule_set("https://www.harbour-times.example/news/1", "harbour-times.txt")
    lines = [line for path in sorted((SAMPLES / "2026-11-27").glob("*.txt"))
             for line in path.read_text(encoding="utf-8", errors="replace").split("\n") if line.strip()]
    lines += ["  Advertisement  ", "ADVERTISEMENT", "Share this article", "Plus de 12 commentaires"]
    expected = [next((rule.name for rule in rule_set.rules if rule.matches(line)), None) for line in lines]
    assert len(set(lines)) > 40 and sum(name is not None for name in expected) > 5  # both kinds, past the limit
    for _ in range(2):  # the second time, from what it remembers where it can
        assert [getattr(rule_set.removing(line, line.strip()), "name", None) for line in lines] == expected
        assert len(rule_set._memo) <= 40
