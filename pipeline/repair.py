"""Repair encoding damage with ftfy, and only encoding damage.

The promise: text that was right comes out unchanged (curly quotes, dashes,
accents, full-width forms, ligatures and non-Latin scripts stay as they are);
mojibake, HTML entities, C1 controls, surrogates and invisible control
characters are repaired, and the result is NFC.

>>> repair("The CafÃ© serves crÃ¨me brÃ»lÃ©e").text
'The Café serves crème brûlée'
>>> repair("“Curly” quotes and ﬁne ligatures stay").changed
False

Most text needs no repair. :func:`needs_repair` decides that cheaply, and when it
says no, ftfy provably returns the text unchanged (it runs the same checks ftfy
runs before touching anything), so the output is identical to running ftfy on
everything.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import ftfy
from ftfy.badness import is_bad

from pipeline.records import Article
from pipeline.text import holds_ascii

FTFY_CONFIG = ftfy.TextFixerConfig(
    # Plain text may carry entities (&amp; &#8217;) from a scraper; but when a '<'
    # shows real markup, ftfy leaves entities alone.
    unescape_html="auto",
    # ANSI colour codes are never part of an article.
    remove_terminal_escapes=True,
    # The point of the stage: undo UTF-8 read as Windows-1252, Latin-1, MacRoman,
    # Windows-1251, cp437, once or twice.
    fix_encoding=True,
    # 'Ã ' where a no-break space was turned into a space is mojibake too.
    restore_byte_a0=True,
    # Mojibake partly replaced by '?' or U+FFFD becomes one U+FFFD, not garbage.
    replace_lossy_sequences=True,
    # A line mixing correct UTF-8 and mojibake still gets its mojibake fixed.
    decode_inconsistent_utf8=True,
    # C1 controls are Windows-1252 punctuation read as Latin-1.
    fix_c1_controls=True,
    # Formatting, not encoding: 'ﬁ' is what the page said.
    fix_latin_ligatures=False,
    # Formatting, not encoding: full-width and half-width forms are what the page said.
    fix_character_width=False,
    # Formatting, not encoding: curly quotes stay curly.
    uncurl_quotes=False,
    # The reader already normalised CR LF; U+2028 and friends are the page's choice.
    fix_line_breaks=False,
    # Surrogate pairs left by UCS-2 decoders become the characters they encode.
    fix_surrogates=True,
    # BOMs, deprecated Arabic shaping controls, interlinear annotation marks: invisible junk.
    remove_control_chars=True,
    # Composed accents, the web's normal form; NFKC would change meaning ('10³' -> '103').
    normalization="NFC",
    # ftfy's default bound on one segment, against unbounded slowdowns.
    max_decode_length=1_000_000,
    # Name every fix applied, for the article's `fixes`.
    explain=True,
)

# What ftfy acts on in ASCII text: an HTML entity (ftfy's own pattern), or a
# control character (including ESC, the start of a terminal escape).
_ENTITY_RE = re.compile(r"&#?[0-9A-Za-z]{1,24};")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])


def _has_control(text: str) -> bool:
    """Whether text holds one of ``_CONTROL_BYTES``."""
    return holds_ascii(text, _CONTROL_BYTES)


# Characters ftfy's non-encoding fixers act on in non-ASCII text: C1 controls,
# surrogates, and the invisible characters remove_control_chars strips.
_UNICODE_SUSPECT_RE = re.compile(
    "[\x80-\x9f\ud800-\udfff\u206a-\u206f\ufff9-\ufffc\ufeff\U0001d173-\U0001d17a]"
)

_NON_ASCII_RUN_RE = re.compile(r"[^\x00-\x7f]+")
# The longest match of ftfy's BADNESS_RE ('ГўВЂВ.[A-Za-z ]'), plus one.
_BADNESS_SPAN = 8


@dataclass(frozen=True)
class Repaired:
    """Repaired text and the names of the fixes that changed it (ftfy's own names)."""

    text: str
    fixes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.fixes)


def needs_repair(text: str) -> bool:
    """Whether ftfy could change this text; False means it certainly would not.

    >>> needs_repair("Plain ASCII news, 3 > 2.")
    False
    >>> needs_repair("Ten &amp; counting")
    True
    >>> needs_repair("It costs Â£5")
    True
    >>> needs_repair("It costs £5, or ‘five pounds’")
    False
    """
    if "&" in text and _ENTITY_RE.search(text):
        return True
    if _has_control(text):
        return True
    if text.isascii():
        return False
    if len(text) > FTFY_CONFIG.max_decode_length:
        return True  # ftfy would cut long lines into pieces; let it decide
    if not unicodedata.is_normalized("NFC", text):
        return True
    for line in text.split("\n"):
        if line.isascii():
            continue  # ftfy skips ASCII lines too
        if _UNICODE_SUSPECT_RE.search(line):
            return True
        # Every pattern of ftfy's mojibake detector (ftfy.badness.BADNESS_RE) is at
        # most _BADNESS_SPAN characters long and holds a non-ASCII character, so a
        # window around each run of non-ASCII characters finds every match in the
        # line. (A window starting mid-line may also match '^': that costs time only.)
        for run in _NON_ASCII_RUN_RE.finditer(line):
            start, end = run.span()
            if is_bad(line[max(0, start - _BADNESS_SPAN) : end + _BADNESS_SPAN]):
                return True
    return False


def _step_name(step: tuple[str, str]) -> str:
    """ftfy's explanation step as one string: ('encode', 'latin-1') -> 'encode:latin-1'."""
    action, parameter = step
    return f"{action}:{parameter}"


def repair(text: str) -> Repaired:
    """Fix encoding damage in ``text``; output identical to ``ftfy.fix_text(text, FTFY_CONFIG)``.

    Like ``fix_text`` it fixes line by line (a line is ftfy's unit of repair), but
    it also collects what each line needed:

    >>> repair("SÃ£o Paulo\\nfine line").fixes
    ('encode:latin-1', 'decode:utf-8')
    """
    if not needs_repair(text):
        return Repaired(text)
    config = FTFY_CONFIG
    out: list[str] = []
    fixes: list[str] = []
    pos = 0
    # The loop is ftfy.fix_text's, with fix_and_explain's explanations kept.
    while pos < len(text):
        textbreak = text.find("\n", pos) + 1
        if textbreak == 0:
            textbreak = len(text)
        if (textbreak - pos) > config.max_decode_length:
            textbreak = pos + config.max_decode_length
        segment = text[pos:textbreak]
        if config.unescape_html == "auto" and "<" in segment:
            config = config._replace(unescape_html=False)
        if needs_repair(segment):
            fixed, steps = ftfy.fix_and_explain(segment, config)
            for step in steps or ():
                name = _step_name(step)
                if name not in fixes:
                    fixes.append(name)
            out.append(fixed)
        else:
            out.append(segment)
        pos = textbreak
    fixed_text = "".join(out)
    if fixed_text == text:
        return Repaired(text)
    return Repaired(fixed_text, tuple(fixes))


def repair_article(article: Article) -> Article:
    """Repair an article's title, text and captions; record what was fixed in ``fixes``."""
    fixes: list[str] = []

    def fix(text: str) -> str:
        repaired = repair(text)
        fixes.extend(name for name in repaired.fixes if name not in fixes)
        return repaired.text

    article.title = fix(article.title) if article.title else article.title
    article.text = fix(article.text)
    article.captions = [fix(caption) for caption in article.captions]
    article.fixes["encoding"] = {"repaired": bool(fixes), "fixes": fixes}
    return article


def repair_records(records: Sequence[dict]) -> list[dict]:
    """``repair_article`` over article records (dicts, as the stage files hold them)."""
    return [repair_article(Article.from_dict(record)).to_dict() for record in records]
