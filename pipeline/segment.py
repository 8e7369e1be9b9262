"""Split a plain-text dump into its articles.

A news site's dump holds many articles, each laid out as::

    Headline                      <- article starts here

    Caption (AFP)                 <- captions, usually printed twice in a row
    Caption (AFP)
    TT                            <- site widget marker
    20                            <- optional widget counter

    Headline                      <- the headline again

    Caption (AFP)                 <- the captions again
    Caption (AFP)

    First body paragraph.
    ...
    Last body paragraph.


    Next Headline                 <- the next article

Segmenting only finds where each article starts and ends; removing the marker,
the repeated headline and the captions from the article is the boilerplate
stage's job, so that both stages can be inspected separately.

A text without any marker line is a single article whose first non-empty line
is the headline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

MARKER = "TT"
# A first line longer than this is not a headline.
MAX_TITLE_CHARS = 500
# Blank lines in a row that end an article when there is no repeated headline
# to find the next article's start by.
ARTICLE_GAP = 2


@dataclass(frozen=True)
class Chunk:
    """One article's raw lines: ``title`` is its headline, ``lines`` what follows it."""

    title: str
    lines: tuple[str, ...]
    first_line: int  # 1-based line number of the headline; lines[j] is line first_line + 1 + j


def is_marker(line: str, marker: str = MARKER) -> bool:
    """The site widget marker: a line holding only ``TT`` (or a site's own marker)."""
    return line.strip() == marker


def is_counter(line: str) -> bool:
    """The widget counter printed after a marker: a line holding only a number."""
    return line.strip().isdigit()


def has_marker_layout(lines: Sequence[str], marker: str = MARKER) -> bool:
    """Whether a text is in the multi-article dump layout (has a marker line)."""
    return any(is_marker(line, marker) for line in lines)


def _repeated_headline_after(lines: Sequence[str], at: int, stop: int, marker: str) -> str | None:
    """The first non-blank line after a marker (and its counter), if any before ``stop``."""
    i = at + 1
    if i < stop and is_counter(lines[i]):
        i += 1
    while i < stop and not lines[i].strip():
        i += 1
    if i < stop and not is_marker(lines[i], marker):
        return lines[i].strip()
    return None


def _start_after_gap(lines: Sequence[str], marker: int, floor: int) -> int:
    """Fallback start: the first non-blank line after a run of blank lines above a marker."""
    i = marker - 1
    blanks = 0
    while i >= floor:
        if lines[i].strip():
            blanks = 0
        else:
            blanks += 1
            if blanks >= ARTICLE_GAP:
                break
        i -= 1
    i += 1
    while i < marker and not lines[i].strip():
        i += 1
    return i


def article_starts(lines: Sequence[str], marker: str = MARKER) -> list[int]:
    """Indexes of the headline line of every article in a marker-layout dump.

    The headline of an article is printed again right after its marker, so the
    article starts at the nearest line above the marker with the same text.
    Without a repeated headline, it starts after the last blank-line gap.
    """
    markers = [i for i, line in enumerate(lines) if is_marker(line, marker)]
    starts: list[int] = []
    for k, at in enumerate(markers):
        floor = markers[k - 1] + 1 if k else 0
        stop = markers[k + 1] if k + 1 < len(markers) else len(lines)
        headline = _repeated_headline_after(lines, at, stop, marker)
        start = None
        if headline:
            for i in range(at - 1, floor - 1, -1):
                if lines[i].strip() == headline:
                    start = i
                    break
        if start is None:
            start = _start_after_gap(lines, at, floor)
        if starts and start <= starts[-1]:
            # A marker with no headline of its own belongs to the previous article.
            continue
        starts.append(start)
    return starts


def _trim_end(lines: Sequence[str]) -> tuple[str, ...]:
    """Drop trailing blank lines (leading ones stay, so line numbers can be derived)."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return tuple(lines[:end])


def split_dump(lines: Sequence[str], marker: str = MARKER) -> tuple[list[Chunk], list[int]]:
    """Split a dump's lines into article chunks.

    Returns the chunks and the 0-based indexes of non-blank lines that belong to
    no article (text before the first headline), so that nothing is lost silently.

    >>> chunks, stray = split_dump(["Title", "", "Cap", "Cap", "TT", "20", "", "Title",
    ...                             "", "Cap", "Cap", "", "Body."])
    >>> chunks[0].title, chunks[0].lines[-1], stray
    ('Title', 'Body.', [])
    """
    if not has_marker_layout(lines, marker):
        return split_single(lines)
    starts = article_starts(lines, marker)
    stray = [i for i in range(starts[0] if starts else len(lines)) if lines[i].strip()]
    chunks = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        chunks.append(
            Chunk(title=lines[start].strip(), lines=_trim_end(lines[start + 1 : end]), first_line=start + 1)
        )
    return chunks, stray


def split_single(lines: Sequence[str]) -> tuple[list[Chunk], list[int]]:
    """A text without markers is one article: first non-empty line is the headline.

    >>> split_single(["", "Headline", "", "Body.", ""])[0]
    [Chunk(title='Headline', lines=('', 'Body.'), first_line=2)]

    A first line too long to be a headline (a file that is one long line) is body,
    and the article has no title:

    >>> split_single(["x" * 600])[0][0].title
    ''
    """
    for i, line in enumerate(lines):
        if line.strip():
            if len(line.strip()) > MAX_TITLE_CHARS:
                return [Chunk(title="", lines=_trim_end(lines[i:]), first_line=i)], []
            return [Chunk(title=line.strip(), lines=_trim_end(lines[i + 1 :]), first_line=i + 1)], []
    return [], []
