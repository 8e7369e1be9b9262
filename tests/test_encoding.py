"""Encoding repair: fixes real mojibake, never harms correct text, same output as ftfy."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import ftfy
import ftfy.bad_codecs  # noqa: F401
import pytest
from ftfy import fixes
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.read.decode import decode_bytes
from pipeline.read.segment import split_dump
from pipeline.repair import FTFY_CONFIG, needs_repair, repair

PLAIN_FTFY = FTFY_CONFIG._replace(explain=False)


def formatting_only(text: str) -> str:
    """Undo the formatting fixes the pipeline deliberately does not make, in ftfy's order."""
    for fixer in (fixes.fix_latin_ligatures, fixes.fix_character_width, fixes.uncurl_quotes):
        text = fixer(text)
    return fixes.fix_line_breaks(text)


def test_correct_text_in_many_scripts_is_untouched():
    text = "“Curly” quotes — dashes… ﬁne ligatures, ＦＵＬＬ width, Zoë, Καλημέρα, Привет, مرحبا, שלום, 日本語"
    assert repair(text) == repair(text)  # deterministic
    assert repair(text).text == text
    assert repair(text).fixes == ()


def test_mojibake_is_repaired_and_named():
    repaired = repair("The councilâ€™s â€œquiet streetsâ€\x9d plan")
    assert repaired.text == "The council’s “quiet streets” plan"
    assert repaired.fixes == ("encode:sloppy-windows-1252", "decode:utf-8")


def test_html_entities_in_plain_text_are_decoded():
    assert repair("Fish &amp; chips at the caf&#233; &#8217;round the corner").text == (
        "Fish & chips at the café ’round the corner"
    )


def test_entities_stay_when_the_text_has_markup():
    assert repair("<b>Fish &amp; chips</b>").text == "<b>Fish &amp; chips</b>"


def test_c1_controls_and_invisible_characters():
    assert repair("parlé\x85 Tu sais").text == "parlé… Tu sais"
    assert repair("\ufeffHeadline\u206a").text == "Headline"


def test_output_is_nfc():
    assert repair("Cafe\u0301").text == "Café"


# --- ftfy's own test cases (../shared/corpora/mojibake) -------------------------------------


def _cases(corpora: Path, name: str) -> list[dict]:
    return json.loads((corpora / "mojibake" / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["in-the-wild.json", "synthetic.json", "language-names.json"])
def test_ftfy_pass_cases_are_repaired(corpora, name):
    cases = [c for c in _cases(corpora, name) if c["expect"] == "pass"]
    wrong = [
        c["label"] for c in cases if formatting_only(repair(c["original"]).text) != formatting_only(c["fixed"])
    ]
    assert wrong == []
    assert len(cases) == {"in-the-wild.json": 70, "synthetic.json": 30, "language-names.json": 20}[name]


def test_ftfy_negative_cases_come_out_unchanged(corpora):
    cases = _cases(corpora, "negative.json")
    assert len(cases) == 31
    unchanged = [c for c in cases if formatting_only(c["fixed"]) == formatting_only(c["original"])]
    # All but one: its own expectation is a C1 control fixed (U+0085 -> '…').
    assert len(unchanged) == 30
    assert [c["label"] for c in unchanged if repair(c["original"]).text != c["original"]] == []
    for case in cases:
        assert formatting_only(repair(case["original"]).text) == formatting_only(case["fixed"])


def test_ftfy_known_failures_give_what_they_give(corpora):
    """ftfy's documented known failures, each pinned to what the repair gives it: the one
    it repairs, the three it leaves as they are, the six it changes otherwise. A case
    that starts passing (or stops) fails here and is looked at."""
    cases = json.loads((corpora / "mojibake" / "known-failures.json").read_text(encoding="utf-8"))
    assert len(cases) == 10
    outcome = {}
    for case in cases:
        repaired = repair(case["original"]).text
        outcome[case["label"]] = ("repaired" if formatting_only(repaired) == formatting_only(case["fixed"])
                                  else "unchanged" if repaired == case["original"] else "changed, not repaired")
    assert Counter(outcome.values()) == {"repaired": 1, "unchanged": 3, "changed, not repaired": 6}
    assert [label for label, what in outcome.items() if what == "repaired"] == ["Misleading mix-up in Spanish"]
    assert [label for label, what in outcome.items() if what == "unchanged"] == [
        "subtle UTF-8 / codepage 437 mixup in Spanish",
        "An example with 'à' in windows-1251 where we need our heuristic to be bolder",
        "Italian UTF-8 / MacRoman mojibake that looks like math"]


# --- the BBC corpus: real, correct text --------------------------------------------------


def _bbc_texts(corpora: Path) -> dict[str, str]:
    root = corpora / "bbc" / "raw"
    return {
        p.relative_to(root).as_posix(): decode_bytes(p.read_bytes()).text for p in sorted(root.rglob("*.txt"))
    }


def test_bbc_corpus_is_untouched_except_html_entities(corpora):
    import html

    texts = _bbc_texts(corpora)
    assert len(texts) == 2225
    changed = {}
    for name, text in texts.items():
        repaired = repair(text)
        if repaired.changed:
            changed[name] = repaired
    # 25 BBC files carry numeric HTML entities (caf&#233;); decoding them is the only change.
    assert len(changed) == 25
    for name, repaired in changed.items():
        assert repaired.fixes == ("apply:unescape_html",)
        assert repaired.text == html.unescape(texts[name])


def test_bbc_latin1_file_gets_its_pound_sign(corpora):
    decoded = decode_bytes((corpora / "bbc" / "raw" / "sport" / "199.txt").read_bytes())
    repaired = repair(decoded.text)
    assert "£" in repaired.text
    assert "\ufffd" not in repaired.text
    assert decoded.legacy_lines


def test_repair_output_equals_plain_ftfy_on_bbc(corpora):
    for text in _bbc_texts(corpora).values():
        assert repair(text).text == ftfy.fix_text(text, PLAIN_FTFY)


def test_fast_path_never_skips_text_ftfy_would_change(corpora):
    samples = list(_bbc_texts(corpora).values())
    for name in ("in-the-wild.json", "synthetic.json", "negative.json", "language-names.json"):
        samples += [c["original"] for c in _cases(corpora, name)]
    for text in samples:
        if not needs_repair(text):
            assert ftfy.fix_text(text, PLAIN_FTFY) == text


# --- the seed, clean and mojibaked ---------------------------------------------------------


def _seed_articles(text: str) -> list[tuple[str, tuple[str, ...]]]:
    chunks, _ = split_dump(repair(text).text.split("\n"))
    return [(c.title, c.lines) for c in chunks]


def test_seed_mojibaked_once_and_twice_repairs_to_the_seed(seed_path):
    clean = seed_path.read_text(encoding="utf-8")
    once = clean.encode("utf-8").decode("sloppy-windows-1252")
    twice = once.encode("utf-8").decode("sloppy-windows-1252")
    assert repair(clean).text == clean
    assert _seed_articles(once) == _seed_articles(clean)
    assert _seed_articles(twice) == _seed_articles(clean)
    assert len(_seed_articles(clean)) == 2


# --- properties ---------------------------------------------------------------------------

SENTENCES = [
    "Le café du coin a fermé ses portes après quarante ans d'activité.",
    "Der Bürgermeister äußerte sich zur Größe des neuen Stadions.",
    "São Paulo e Brasília receberão os jogos da seleção em março.",
    "La niña comió piña y jalapeños en la fiesta del año.",
    "Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία.",
    "Οι κάτοικοι της πόλης διαμαρτυρήθηκαν για τις τιμές.",
    "Правительство объявило о новых мерах поддержки экономики.",
    "Жители города вышли на улицы в воскресенье.",
    "أعلنت الحكومة عن إجراءات جديدة لدعم الاقتصاد.",
    "خرج سكان المدينة إلى الشوارع يوم الأحد.",
    "הממשלה הודיעה על צעדים חדשים לתמיכה בכלכלה.",
    "תושבי העיר יצאו לרחובות ביום ראשון.",
]


@st.composite
def sentence_parts(draw):
    words = draw(st.sampled_from(SENTENCES)).split()
    start = draw(st.integers(0, len(words) - 1))
    end = draw(st.integers(start + 1, len(words)))
    return " ".join(words[start:end])


@settings(max_examples=300, deadline=None)
@given(sentence_parts(), st.sampled_from(["sloppy-windows-1252", "latin-1"]), st.integers(1, 2))
def test_mojibake_of_real_sentences_repairs_back(sentence, encoding, times):
    broken = sentence
    for _ in range(times):
        try:
            broken = broken.encode("utf-8").decode(encoding)
        except UnicodeDecodeError:
            return  # not every byte is a Latin-1 character: no such mojibake exists
    assert repair(broken).text == sentence


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
def test_repair_is_idempotent_and_equals_ftfy(text):
    once = repair(text).text
    assert repair(once).text == once
    assert once == ftfy.fix_text(text, PLAIN_FTFY)
