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
from pipeline.clean.sitelines import SiteCounts, line_hashes_of_texts, line_key
from pipeline.text import has_more_words, squeeze_spaces, word_count
from tests.conftest import Night

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


@pytest.mark.parametrize("name, target", [("scrapinghub_aeb", 0.80), ("cleanportaleval", 0.80), ("cleaneval_dev", 0.896)])
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
    assert cleaned["must_keep_kept"] / cleaned["must_keep"] >= 0.95
    assert cleaned["must_drop_removed"] > baseline["must_drop_removed"]


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


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text())
def test_word_count_is_the_regex_count(text):
    count = len(regex.findall(r"\w+", text))
    assert word_count(text) == count
    assert [word_count(text, limit) for limit in range(4)] == [min(count, limit + 1) for limit in range(4)]
    assert [has_more_words(text, limit) for limit in range(4)] == [count > limit for limit in range(4)]


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
    assert 15 in main_text(page, dataclasses.replace(settings, repeated_words=0), Stoplists.default(), lang="en")
