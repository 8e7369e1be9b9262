"""The one definition of what every stage counts in text: words, spaces, hosts, sites.

A *word* is a run of Unicode word characters: letters, the marks that combine with them,
digits and connectors (the ``regex`` module's ``\\w``, which keeps Thai and Devanagari
words whole where the standard library's ``re`` splits them at their vowel signs).
Rules count words to decide which lines they reach, the classifier counts them for a
line's score, dedup hashes them (after NFKC and case folding), and the boilerplate
benchmark's metric splits gold text with them.

>>> words("U.S. troops, 3rd_wave -- now"), words("हिन्दी में")
(['U', 'S', 'troops', '3rd_wave', 'now'], ['हिन्दी', 'में'])
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import regex

WORD = regex.compile(r"\w+")
# The word rule's version, part of dedup's settings fingerprint: hashes made under another
# rule cannot be compared. 1: the standard library's \w (splits words at their combining
# marks); 2: Unicode word characters.
WORDS_VERSION = 2
# ASCII bytes that are word characters (what WORD matches in ASCII text).
ASCII_WORD_BYTES = bytes(c for c in range(0x80) if chr(c).isalnum() or c == 0x5F)
# ASCII bytes to "a" for a word character, a space otherwise: words become runs of "a".
_ASCII_WORD_MARKS = bytes(0x61 if c in ASCII_WORD_BYTES else 0x20 for c in range(256))


def words(text: str) -> list[str]:
    """The words of a text, in order."""
    return WORD.findall(text)


# Scripts written without spaces between words, where one \w run is a whole phrase: a
# Chinese or Japanese character counts as a word (a Chinese word is one or two of them),
# and Thai, Lao, Khmer or Myanmar letters as a word every four (about their words'
# length). Any other run of word characters is one word, as in ``words``.
_ONE_A_WORD = r"\p{Han}\p{Hiragana}\p{Katakana}ー"
_FOUR_A_WORD = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_READING_WORD = regex.compile(rf"[{_ONE_A_WORD}]|[{_FOUR_A_WORD}]{{1,4}}|[^\W{_ONE_A_WORD}{_FOUR_A_WORD}]+")


def reading_words(text: str) -> list[str]:
    """The words of a text as a reader counts them, for the line classifier's scores:
    ``words``, with runs of the scripts above split as said there. Dedup and the rules
    keep ``words``.

    >>> reading_words("The council 市议会通过了预算 votes"), len(reading_words("สภาเมืองอนุมัติงบประมาณ"))
    (['The', 'council', '市', '议', '会', '通', '过', '了', '预', '算', 'votes'], 6)
    >>> reading_words("iPhone手机 café") == ["iPhone", "手", "机", "café"]
    True
    """
    return WORD.findall(text) if text.isascii() else _READING_WORD.findall(text)


def word_count(text: str, limit: int = -1) -> int:
    """How many words a text has. With a ``limit``, a count above it comes back as
    ``limit + 1``.

    >>> word_count("U.S. troops, 3rd_wave -- now"), word_count("Café «au» lait"), word_count("a b c d", 2)
    (5, 3, 3)
    """
    if text.isascii():  # the same count without the regex: a word starts the text or follows a space
        if 0 <= limit and 16 * (limit + 1) < len(text):
            # The word starts in a head of the text are the text's own there: enough of
            # them, and the count is known without reading on (a line longer than a rule's
            # reach, an article's length against min_words).
            marks = text[: 16 * (limit + 1)].encode("ascii").translate(_ASCII_WORD_MARKS)
            if marks.count(b" a") + marks.startswith(b"a") > limit:
                return limit + 1
        marks = text.encode("ascii").translate(_ASCII_WORD_MARKS)
        count = marks.count(b" a") + marks.startswith(b"a")
    else:
        count = len(WORD.findall(text))
    return count if limit < 0 else min(count, limit + 1)


@functools.cache
def _more_than(count: int) -> regex.Pattern:
    # Anchored, and \w+ / \W+ never overlap: one left-to-right pass, no backtracking.
    return regex.compile(r"\W*(?:\w+\W+){%d}\w" % count)


def has_more_words(text: str, count: int) -> bool:
    """Whether ``text`` has more than ``count`` words, looking no further than needed.

    >>> has_more_words("one, two three", 2), has_more_words("one, two three", 3)
    (True, False)
    """
    if text.isascii():  # a byte table and a count (see word_count)
        return word_count(text, count) > count
    return _more_than(count).match(text) is not None


def squeeze_spaces(line: str) -> str:
    """``" ".join(line.split())``: no surrounding spaces, one space between words.

    Most lines already are, and are returned as they are without splitting them: a line
    whose characters are all printable holds no whitespace but the plain space (every
    other whitespace character is a control or separator, which are not printable).

    >>> squeeze_spaces(" A  line\\twith\\u00a0gaps "), squeeze_spaces("A line.")
    ('A line with gaps', 'A line.')
    """
    if line.isprintable() and "  " not in line and line[:1] != " " and line[-1:] != " ":
        return line
    return " ".join(line.split())


def holds_ascii(text: str, characters: bytes) -> bool:
    """Whether ``text`` holds one of ``characters`` (each below U+0080, as bytes): UTF-8
    encodes such a character as that byte and no other character's bytes hold one, so
    deleting them from the encoded text tells, quicker than a regex search.

    >>> holds_ascii("Café\u00a0au lait", b"\x0b\x0c"), holds_ascii("a\x0cb", b"\x0b\x0c")
    (False, True)
    """
    encoded = text.encode("utf-8", "surrogatepass")
    return len(encoded.translate(None, characters)) != len(encoded)


def url_host(url: str | None) -> str | None:
    """The host of a URL, lower-cased, without ``www.``.

    >>> url_host("https://WWW.Example.org/news/1"), url_host(None), url_host("not a url")
    ('example.org', None, None)
    """
    if not url:
        return None
    host = urlsplit(url).hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def site_of(url: str | None, file: str) -> str:
    """The site an article belongs to: the URL's host, else the file it came from.

    >>> site_of("https://www.example.org/a", "feed.jsonl"), site_of(None, "wire/dump.txt")
    ('example.org', 'file:wire/dump.txt')
    """
    return url_host(url) or f"file:{file}"


def clip(text: str, width: int) -> str:
    r"""A text on one line, at most ``width`` characters (an ellipsis says it was cut).

    >>> clip("A  long\n line", 8), clip("short", 8)
    ('A long …', 'short')
    """
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# What a terminal would act on rather than show: C0 and C1 controls (escape sequences
# retitle or clear the terminal), DEL, bidirectional overrides and isolates (they
# reorder what is shown), line and paragraph separators; and the lone surrogates that
# stand for the bytes of a file name that is not UTF-8.
_UNSAFE = regex.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def _escape(character: str) -> str:
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as the file system gave it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""Text from the data (or a file name) as a terminal may show it: what it would act
    on escaped, as ``--json`` escapes it.

    >>> printable("a\x1b]0;pwned\x07b \u202egnp.exe")
    'a\\x1b]0;pwned\\x07b \\u202egnp.exe'
    >>> printable(b"caf\xe9-\xff.jsonl".decode("utf-8", "surrogateescape"))
    'caf\\xe9-\\xff.jsonl'
    """
    return _UNSAFE.sub(lambda m: _escape(m[0]), text)
