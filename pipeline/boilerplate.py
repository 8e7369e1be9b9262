"""Remove boilerplate lines from an article, and account for every line removed.

The built-in rules undo the news-site dump layout (see ``segment``)::

    Caption (AFP)          caption             -> moved into `captions`
    Caption (AFP)          repeated_caption    -> dropped, it is in `captions` once
    TT                     widget_marker       -> dropped
    20                     widget_counter      -> dropped (only right after a marker)
    Headline               repeated_headline   -> dropped, it is the `title`
    Caption (AFP)          repeated_caption    -> dropped
    Body paragraph.        kept

Every removed line becomes a :class:`Removal` naming its rule, so a user can ask
why a sentence is missing. Body lines that are only a number (a score, an
attendance) are body: only the line right after a marker is a widget counter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from pipeline.records import Article, Rejection, excerpt
from pipeline.segment import is_counter, is_marker

STAGE = "clean"


@dataclass(frozen=True)
class Removal:
    """One line taken out of an article: which rule, which line of the source, what text."""

    rule: str
    line: int | None
    text: str


@dataclass
class Cleaned:
    """An article's body after boilerplate removal."""

    text: str
    captions: list[str] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Lines removed per rule, rules in order of first use."""
        out: dict[str, int] = {}
        for removal in self.removed:
            out[removal.rule] = out.get(removal.rule, 0) + 1
        return out


def _key(line: str) -> str:
    """Lines compare equal when they differ only in surrounding or repeated spaces."""
    return " ".join(line.split())


def join_paragraphs(lines: Sequence[str]) -> str:
    """Body lines to text: paragraphs separated by one blank line, trailing spaces gone.

    >>> join_paragraphs(["", "One.  ", "still one", "", "", "Two.", ""])
    'One.\\nstill one\\n\\nTwo.'
    """
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        stripped = line.rstrip()
        if stripped.strip():
            current.append(stripped)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return "\n\n".join("\n".join(p) for p in paragraphs)


def clean_layout(
    title: str | None, lines: Sequence[str], line_numbers: Sequence[int | None]
) -> Cleaned:
    """Apply the built-in layout rules to an article's lines (those after its headline).

    ``line_numbers[j]`` is the source line of ``lines[j]`` (None when unknown).

    >>> c = clean_layout("Title", ["", "Cap.", "Cap.", "TT", "20", "", "Title", "",
    ...                            "Cap.", "Cap.", "", "Body 1.", "", "3", ""], [None] * 15)
    >>> c.text, c.captions
    ('Body 1.\\n\\n3', ['Cap.'])
    >>> c.counts()
    {'caption': 1, 'repeated_caption': 3, 'widget_marker': 1, 'widget_counter': 1, 'repeated_headline': 1}
    """
    captions: list[str] = []
    dropped: dict[int, str] = {}  # line index -> rule

    def drop(j: int, rule: str) -> None:
        dropped[j] = rule

    title_key = _key(title) if title else None
    marker = next((j for j, line in enumerate(lines) if is_marker(line)), None)
    if marker is not None:
        # Above the first marker: the captions, each usually printed twice.
        seen: set[str] = set()
        for j in range(marker):
            key = _key(lines[j])
            if not key:
                continue
            if key in seen:
                drop(j, "repeated_caption")
            else:
                seen.add(key)
                captions.append(key)
                drop(j, "caption")
        # Every marker, and the counter right after it.
        for j, line in enumerate(lines):
            if is_marker(line):
                drop(j, "widget_marker")
                if j + 1 < len(lines) and is_counter(lines[j + 1]):
                    drop(j + 1, "widget_counter")
        # After the first marker: the headline again, then the captions again.
        j = marker + 1
        while j < len(lines) and (j in dropped or not lines[j].strip()):
            j += 1
        if j < len(lines) and title_key and _key(lines[j]) == title_key:
            drop(j, "repeated_headline")
            j += 1
        while j < len(lines):
            key = _key(lines[j])
            if key and key in seen:
                drop(j, "repeated_caption")
            elif key:
                break
            j += 1
    elif title_key:
        # No layout: a text that starts with its own headline.
        first = next((j for j, line in enumerate(lines) if line.strip()), None)
        if first is not None and _key(lines[first]) == title_key:
            drop(first, "repeated_headline")

    removed = [Removal(dropped[j], line_numbers[j], lines[j]) for j in sorted(dropped)]
    body = [line for j, line in enumerate(lines) if j not in dropped]
    return Cleaned(text=join_paragraphs(body), captions=captions, removed=removed)


_WORD_RE = re.compile(r"\w+")


def word_count(text: str) -> int:
    """Words as the minimum-length rule counts them (runs of word characters)."""
    return len(_WORD_RE.findall(text))


def clean_article(article: Article, min_words: int) -> tuple[Article, list[Removal], Rejection | None]:
    """Remove boilerplate from an article in place.

    Returns the article, its removed lines, and a rejection when what is left is
    shorter than ``min_words`` words (the removed lines are returned either way,
    so that a rejected article's text is still accountable).
    """
    lines = article.text.split("\n")
    cleaned = clean_layout(article.title, lines, [article.line_of(j) for j in range(len(lines))])
    article.text = cleaned.text
    article.captions = article.captions + [c for c in cleaned.captions if c not in article.captions]
    article.fixes["removed_lines"] = cleaned.counts()
    words = word_count(article.text)
    rejection = None
    if words < min_words:
        rejection = Rejection(
            file=article.source["file"],
            reason=f"too short after cleaning: {words} word(s), minimum {min_words}",
            stage=STAGE,
            line=article.source.get("line"),
            id=article.id,
            excerpt=excerpt(article.title or article.text),
        )
    return article, cleaned.removed, rejection
