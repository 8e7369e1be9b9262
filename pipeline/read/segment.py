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

import itertools
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

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
    return _chunks(lines, starts + [len(lines)]), stray


def _chunks(lines: Sequence[str], bounds: Sequence[int], base: int = 0) -> list[Chunk]:
    """The articles starting at ``bounds[k]`` and ending before ``bounds[k + 1]``
    (``lines[0]`` is the text's line ``base + 1``)."""
    return [
        Chunk(title=lines[start].strip(), lines=_trim_end(lines[start + 1 : end]), first_line=base + start + 1)
        for start, end in zip(bounds, bounds[1:])
    ]


# Lines held at least before a window of a dump is split (see stream_dump).
WINDOW_LINES = 20_000
# Lines taken from the text at a time.
FILL_LINES = 4096


@dataclass(frozen=True)
class Stray:
    """Non-blank lines before a dump's first headline: no article's."""

    lines: list[int]  # 0-based indexes
    text: str  # the lines, joined


def stream_dump(lines: Iterable[str], marker: str = MARKER, window: int = WINDOW_LINES) -> Iterator[Chunk | Stray]:
    """:func:`split_dump` of a text given line by line, holding about ``window`` lines at
    a time: the chunks in order, preceded by the :class:`Stray` lines if there are any.

    An article's start depends only on the lines between the markers around it, so a
    window cut at a marker, and the next window begun at an article's start, give
    exactly the whole text's chunks. A text without any marker is one article, held
    whole (there is no article boundary to cut at).

    >>> text = ["Title", "", "Cap", "TT", "", "Title", "", "Body."] * 3
    >>> [c.first_line for c in stream_dump(text, window=4)] == [c.first_line for c in split_dump(text)[0]]
    True
    """
    source = iter(lines)
    buffer: list[str] = []
    markers: list[int] = []
    ended = False

    def fill() -> bool:
        """More lines into the buffer, noting the markers; False at the end of the text."""
        batch = list(itertools.islice(source, FILL_LINES))
        markers.extend(len(buffer) + i for i, line in enumerate(batch) if marker in line and is_marker(line, marker))
        buffer.extend(batch)
        return bool(batch)

    while not markers:
        if not fill():
            chunks, stray = split_single(buffer)
            yield from ([Stray(stray, "\n".join(buffer[i] for i in stray))] if stray else [])
            yield from chunks
            return
    base, first, target = 0, True, window
    while True:
        while not ended and (len(buffer) < target or len(markers) < 3):
            ended = not fill()
        # Final: the starts of every marker but the last (whose article may go on).
        starts = article_starts(buffer if ended else buffer[: markers[-1]], marker)
        if first and (starts or ended):
            stray = [i for i in range(starts[0] if starts else len(buffer)) if buffer[i].strip()]
            yield from ([Stray(stray, "\n".join(buffer[i] for i in stray))] if stray else [])
            first = False
        if ended:
            yield from _chunks(buffer, starts + [len(buffer)], base)
            return
        if len(starts) < 2:  # no article ends within the window yet: hold more
            target = len(buffer) + window
            continue
        yield from _chunks(buffer, starts, base)
        keep = starts[-1]
        buffer, base, target = buffer[keep:], base + keep, window
        markers = [m - keep for m in markers if m >= keep]


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
