"""Read a night's raw files into articles, and everything else into rejections.

Inputs, any of them gzip-compressed (``.gz``):

- ``*.txt``: a news-site dump of many articles in the marker layout (see
  ``segment``), or a single article whose first non-empty line is its headline;
- ``*.jsonl``: one scraped article a line: ``text`` required; ``id``, ``title``,
  ``url``, ``published`` optional; any other field is kept under ``meta``.

Nothing is dropped silently: a file or line that cannot become an article is a
:class:`Rejection` naming the file, line or byte offset, and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import orjson

from pipeline.read.decode import LineDecoder
from pipeline.read.files import GzipBlocks, NotRegularFile, open_raw, read_blocks
from pipeline.read.segment import MARKER, Stray, stream_dump
from pipeline.records import Article, Rejection, excerpt

STAGE = "read"
JSONL_FIELDS = ("id", "text", "title", "url", "published")
# Share of a file's characters that are control characters above which it is binary.
BINARY_CONTROL_SHARE = 0.05


@dataclass
class FileResult:
    """What one raw file gave: its articles and its rejections."""

    articles: list[Article]
    rejections: list[Rejection]


# Bytes at the start of a file whose control characters decide that it is binary.
BINARY_SAMPLE = 1 << 20


def read_file(night_dir: Path, rel: str, date: str, marker: str = MARKER) -> FileResult:
    """Read one raw file of a night into articles and rejections (``marker``: the
    widget marker line that makes a ``.txt`` file a multi-article dump)."""
    result = FileResult([], [])
    for item in iter_file(night_dir, rel, date, marker):
        (result.rejections if isinstance(item, Rejection) else result.articles).append(item)
    return result


def iter_file(night_dir: Path, rel: str, date: str, marker: str = MARKER) -> Iterator[Article | Rejection]:
    """One raw file of a night, read as it is used: its articles and rejections, in file
    order (memory: a block, and the articles being split; see ``segment.stream_dump``)."""
    try:
        handle = open_raw(night_dir, rel)
    except NotRegularFile as error:
        yield Rejection(rel, f"not a regular file ({error.strerror}), not read", STAGE)
        return
    except OSError as error:
        yield Rejection(rel, f"unreadable: {error.strerror}", STAGE)
        return
    with handle:
        name = rel.lower()
        gzipped = name.endswith(".gz")
        blocks = GzipBlocks(handle) if gzipped else None
        try:
            decoder = LineDecoder(iter(blocks) if blocks is not None else read_blocks(handle))
            sample = decoder.read_ahead(BINARY_SAMPLE)
            if not sample.strip() and decoder.size_ahead <= BINARY_SAMPLE:
                yield Rejection(rel, "empty file", STAGE)
            elif decoder.control_share(sample) > BINARY_CONTROL_SHARE:
                yield Rejection(rel, "binary file, not text", STAGE, excerpt=excerpt(sample))
            elif name.removesuffix(".gz").endswith(".jsonl"):
                yield from _jsonl_articles(decoder, rel, date)
            else:
                yield from _txt_articles(decoder, rel, date, marker)
        except OSError as error:
            yield Rejection(rel, f"unreadable: {error.strerror}", STAGE)
        if blocks is not None and blocks.damage:
            yield Rejection(rel, blocks.damage, STAGE, offset=blocks.offset,
                            excerpt=f"{blocks.recovered} bytes recovered")


def _txt_articles(decoder: LineDecoder, rel: str, date: str, marker: str) -> Iterator[Article | Rejection]:
    index = -1
    for item in stream_dump(decoder.lines(), marker):
        if isinstance(item, Stray):
            yield Rejection(rel, f"{len(item.lines)} line(s) before the first headline belong to no article",
                            STAGE, line=item.lines[0] + 1, excerpt=excerpt(item.text))
            continue
        index += 1
        last_line = item.first_line + len(item.lines)
        yield Article(
            id=f"{date}/{rel}#{index}",
            title=item.title or None,
            text="\n".join(item.lines),
            captions=[],
            url=None,
            date=date,
            source={"file": rel, "index": index, "line": item.first_line},
            fixes={"decoding": decoder.fixes(item.first_line, last_line)},
            text_line=item.first_line + 1,
        )
        decoder.forget(last_line)
    if index < 0:
        yield Rejection(rel, "no article found", STAGE)


def _optional_string(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")


def _jsonl_articles(decoder: LineDecoder, rel: str, date: str) -> Iterator[Article | Rejection]:
    index = -1
    for number, line in enumerate(decoder.lines(), start=1):
        if not line.strip():
            continue
        index += 1
        article = _jsonl_article(line, number, index, rel, date, decoder)
        decoder.forget(number + 1)
        yield article


def _jsonl_article(line: str, number: int, index: int, rel: str, date: str,
                   decoder: LineDecoder) -> Article | Rejection:
    """One JSONL line as an article, or as the rejection saying why it is none."""

    def reject(reason: str, record_id: str | None = None) -> Rejection:
        return Rejection(rel, reason, STAGE, line=number, id=record_id, excerpt=excerpt(line))

    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return reject(f"malformed JSON: {error}")
    if not isinstance(record, dict):
        return reject(f"not a JSON object but a {type(record).__name__}")
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, (str, int, type(None))):
        return reject(f"field 'id' must be a string or an integer, got {type(record_id).__name__}")
    record_id = None if record_id is None else str(record_id)
    text = record.get("text")
    if text is None:
        return reject("missing field 'text'", record_id)
    if not isinstance(text, str):
        return reject(f"field 'text' must be a string, got {type(text).__name__}", record_id)
    try:
        title, url, published = (_optional_string(record, f) for f in ("title", "url", "published"))
    except ValueError as error:
        return reject(str(error), record_id)
    if not text.strip():
        return reject("empty text", record_id)
    return Article(
        id=record_id if record_id is not None else f"{date}/{rel}#{index}",
        title=title.strip() if title else None,
        text=text.replace("\r\n", "\n").replace("\r", "\n"),
        captions=[],
        url=url,
        date=date,
        source={"file": rel, "index": index, "line": number},
        fixes={"decoding": decoder.fixes(number, number)},
        published=published,
        meta={k: v for k, v in record.items() if k not in JSONL_FIELDS},
    )


def read_shard(
    night_dir: Path,
    files: Sequence[str],
    date: str,
    marker_for: Callable[[str], str] = lambda rel: MARKER,
) -> FileResult:
    """Read a shard's files in order (``marker_for(file)``: the file's widget marker)."""
    result = FileResult([], [])
    for item in iter_shard(night_dir, files, date, marker_for):
        (result.rejections if isinstance(item, Rejection) else result.articles).append(item)
    return result


def iter_shard(
    night_dir: Path,
    files: Sequence[str],
    date: str,
    marker_for: Callable[[str], str] = lambda rel: MARKER,
) -> Iterator[Article | Rejection]:
    """:func:`iter_file` over a shard's files, in order."""
    for rel in files:
        yield from iter_file(night_dir, rel, date, marker_for(rel))


