"""The records that flow between stages, one dataclass each, and each stage's stats.

Every stage reads and writes JSONL of these records, so any stage's output can be
opened with ``head``, ``jq`` or ``grep``, and a stage can be rerun on its own.
"""

from __future__ import annotations

import re
import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from pipeline.io.jsonl import write_json


@dataclass
class Article:
    """One article on its way through the pipeline.

    ``fixes`` accumulates what each stage changed: ``decoding`` (how bytes were
    decoded), ``encoding`` (ftfy repairs), ``removed_lines`` (lines removed per rule).
    """

    id: str
    title: str | None
    text: str
    captions: list[str]
    url: str | None
    date: str
    source: dict[str, Any]  # file (relative to the night's folder), index, line
    fixes: dict[str, Any]
    published: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # The text's language (ISO 639-1, or 639-3 without a two-letter code), once cleaned.
    lang: str | None = None
    # Source line of the first line of ``text`` (plain-text dumps); None for JSONL,
    # where every line of a record's text comes from the record's line.
    text_line: int | None = None

    @property
    def key(self) -> str:
        """Unique within a night even when input ids repeat: file and position."""
        return Article.key_of(self.source)

    @staticmethod
    def key_of(source: dict[str, Any]) -> str:
        """:attr:`key` of the article with this ``source`` (for a stage file's record,
        without making the dataclass)."""
        return f"{source['file']}#{source['index']}"

    def to_dict(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies every value, which costs more
        # than the rest of a stage's bookkeeping. The values are JSON data already.
        return {
            "id": self.id, "title": self.title, "text": self.text, "captions": self.captions,
            "url": self.url, "date": self.date, "source": self.source, "fixes": self.fixes,
            "published": self.published, "meta": self.meta, "lang": self.lang, "text_line": self.text_line,
        }

    def to_output(self) -> dict[str, Any]:
        """The record as written to ``articles.jsonl`` (internal fields left out)."""
        out = self.to_dict()
        del out["text_line"]
        return out

    @staticmethod
    def output_line(line: bytes) -> bytes:
        """A stage's JSONL line of an article as ``articles.jsonl`` has it: the bytes of
        ``dumps(Article.from_dict(loads(line)).to_output())``, without parsing the text.

        ``to_dict`` puts ``text_line`` last, so it is the line's last member at the top
        level (a nested one would be followed by two braces):

        >>> Article.output_line(b'{"id":"a","meta":{"text_line":1},"text_line":null}\\n')
        b'{"id":"a","meta":{"text_line":1}}\\n'
        """
        found = _LAST_TEXT_LINE.search(line)
        if found is None:
            raise ValueError(f"not an article record of this pipeline: {line[:80]!r}")
        return line[: found.start()] + b"}\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Article":
        return cls(**data)

    def lines_of(self, count: int) -> Sequence[int | None]:
        """Source lines of the first ``count`` lines of the article's raw text (the
        record's own line for every one when the text came from a JSONL record)."""
        if self.text_line is None:
            return [self.source.get("line")] * count
        return range(self.text_line, self.text_line + count)


_LAST_TEXT_LINE = re.compile(rb',"text_line":(?:null|-?[0-9]+)}\n?\Z')


@dataclass
class Rejection:
    """Input that could not become an article, and why; written to ``rejected.jsonl``."""

    file: str
    reason: str
    stage: str
    line: int | None = None
    offset: int | None = None
    id: str | None = None
    excerpt: str = ""
    # For an article of a language the settings do not keep: its language and how sure.
    lang: str | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.lang is None:
            del out["lang"], out["confidence"]
        return out


EXCERPT_CHARS = 200


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of an offending input, printable, for people to recognise it.

    >>> excerpt(b"\\xff\\xfebinary\\x00junk")
    '\\\\xff\\\\xfebinary\\\\x00junk'
    """
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("ascii", errors="backslashreplace")
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text[:limit]


@contextmanager
def timed(holder: Any) -> Iterator[None]:
    """Add the seconds spent inside the block to ``holder.seconds`` (a stage's stats, a
    step's tally)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        holder.seconds += time.perf_counter() - started


@dataclass
class StageStats:
    """A stage's ``stats.json``: what it counted (in the order it reports them), the
    seconds it took, and whatever else it says about itself (a shard's files)."""

    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def timing(self) -> AbstractContextManager[None]:
        """Add the time spent inside the block to the stage's seconds."""
        return timed(self)

    def write(self, path: Path | str) -> None:
        write_json(path, {"counts": self.counts, "seconds": round(self.seconds, 3), **self.extra})
