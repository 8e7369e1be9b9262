"""Read a night's raw files into articles, and everything else into rejections.

Inputs, any of them gzip-compressed (``.gz``):

- ``*.txt``: a news-site dump of many articles in the marker layout (see
  ``segment``), or a single article whose first non-empty line is its headline;
- ``*.jsonl``: one scraped article a line: ``text`` or ``html`` required; ``id``,
  ``title``, ``url``, ``published`` optional; any other field is kept under ``meta``;
- ``*.html``, ``*.htm``: one page a file;
- ``*.warc``: a crawl's WARC file, its HTML responses (see ``warc``).

Pages (HTML files, WARC responses, JSONL records with ``html``) come out as
:class:`~pipeline.read.html.Page` items, made into articles by ``html.extract`` in the
stage's worker processes (the expensive step).

Nothing is dropped silently: a file or line that cannot become an article is a
:class:`Rejection` naming the file, line or byte offset, and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

from pipeline.read import decode
from pipeline.read.decode import LineDecoder
from pipeline.read.files import (
    UNREADABLE,
    GzipBlocks,
    HashingReader,
    NotRegularFile,
    RawSum,
    open_raw,
    read_blocks,
)
from pipeline.read.html import Page
from pipeline.read.segment import MARKER, Stray, stream_dump
from pipeline.read.warc import WarcCounts, warc_pages
from pipeline.records import Article, Rejection, excerpt

STAGE = "read"
JSONL_FIELDS = ("id", "text", "title", "url", "published")
HTML_SUFFIXES = (".html", ".htm")
# A page larger than this is rejected unread (the max_page_bytes setting's default).
MAX_PAGE_BYTES = 20_000_000
# Share of a file's characters that are control characters above which it is binary.
BINARY_CONTROL_SHARE = 0.05


@dataclass
class FileResult:
    """What one raw file gave: its articles and its rejections."""

    articles: list[Article]
    rejections: list[Rejection]
    pages: list[Page] = field(default_factory=list)


# Bytes at the start of a file whose control characters decide that it is binary.
BINARY_SAMPLE = 1 << 20


def read_file(night_dir: Path, rel: str, date: str, marker: str = MARKER,
              max_page_bytes: int = MAX_PAGE_BYTES, warc_counts: WarcCounts | None = None) -> FileResult:
    """Read one raw file of a night into articles, pages and rejections (``marker``: the
    widget marker line that makes a ``.txt`` file a multi-article dump)."""
    result = FileResult([], [])
    for item in iter_file(night_dir, rel, date, marker, max_page_bytes, warc_counts):
        _sort_item(result, item)
    return result


def _sort_item(result: FileResult, item: Article | Page | Rejection) -> None:
    if isinstance(item, Rejection):
        result.rejections.append(item)
    elif isinstance(item, Page):
        result.pages.append(item)
    else:
        result.articles.append(item)


def iter_file(night_dir: Path, rel: str, date: str, marker: str = MARKER, max_page_bytes: int = MAX_PAGE_BYTES,
              warc_counts: WarcCounts | None = None,
              read: list[RawSum] | None = None) -> Iterator[Article | Page | Rejection]:
    """One raw file of a night, read as it is used: its articles, pages and rejections, in
    file order (memory: a block, and the articles being split; see ``segment.stream_dump``;
    a page). ``warc_counts`` collects what WARC files held; ``read`` gets the file's
    :class:`RawSum`, of the bytes read, once the file is done."""
    try:
        handle = HashingReader(open_raw(night_dir, rel), rel)
    except NotRegularFile as error:
        _note(read, RawSum(rel, -1, UNREADABLE))
        yield Rejection(rel, f"not a regular file ({error.strerror}), not read", STAGE)
        return
    except OSError as error:
        _note(read, RawSum(rel, -1, UNREADABLE))
        yield Rejection(rel, f"unreadable: {error.strerror}", STAGE)
        return
    with handle:
        yield from _file_items(handle, rel, date, marker, max_page_bytes, warc_counts)
        try:
            _note(read, handle.sum())
        except OSError:
            _note(read, RawSum(rel, -1, UNREADABLE))


def _note(read: list[RawSum] | None, found: RawSum) -> None:
    if read is not None:
        read.append(found)


def _file_items(handle: HashingReader, rel: str, date: str, marker: str, max_page_bytes: int,
                warc_counts: WarcCounts | None) -> Iterator[Article | Page | Rejection]:
    name = rel.lower()
    gzipped = name.endswith(".gz")
    blocks = GzipBlocks(handle) if gzipped else None
    kind = name.removesuffix(".gz")
    source = iter(blocks) if blocks is not None else read_blocks(handle)
    try:
        if kind.endswith(HTML_SUFFIXES):
            yield _html_page(source, rel, date, max_page_bytes)
        elif kind.endswith(".warc"):
            yield from _warc_items(source, rel, date, max_page_bytes, warc_counts or WarcCounts(), blocks)
        else:
            decoder = LineDecoder(source)
            sample = decoder.read_ahead(BINARY_SAMPLE)
            if not sample.strip() and decoder.size_ahead <= BINARY_SAMPLE:
                yield Rejection(rel, "empty file", STAGE)
            elif decoder.control_share(sample) > BINARY_CONTROL_SHARE:
                yield Rejection(rel, "binary file, not text", STAGE, excerpt=excerpt(sample))
            elif kind.endswith(".jsonl"):
                yield from _jsonl_articles(decoder, rel, date)
            else:
                yield from _txt_articles(decoder, rel, date, marker)
    except OSError as error:
        yield Rejection(rel, f"unreadable: {error.strerror}", STAGE)
    if blocks is not None and blocks.damage:
        yield Rejection(rel, blocks.damage, STAGE, offset=blocks.offset,
                        excerpt=f"{blocks.recovered} bytes recovered")


def _warc_items(source: Iterator[bytes], rel: str, date: str, max_bytes: int, counts: WarcCounts,
                blocks: GzipBlocks | None) -> Iterator[Page | Rejection]:
    """A WARC file's pages and rejections; a file with neither is rejected, saying what it held."""
    found = False
    for item in warc_pages(source, rel, date, max_bytes, counts, blocks):
        found = True
        yield item
    if not found and not (blocks is not None and blocks.damage):
        yield Rejection(rel, "no HTML pages in the WARC file" + _skipped_note(counts), STAGE)


def _html_page(blocks: Iterator[bytes], rel: str, date: str, max_bytes: int) -> Page | Rejection:
    """An HTML file's page (read up to ``max_bytes``: a larger one is rejected unread)."""
    parts, size = [], 0
    for block in blocks:
        parts.append(block)
        size += len(block)
        if size > max_bytes:
            return Rejection(rel, f"page larger than {max_bytes:,} bytes (max_page_bytes)", STAGE)
    data = b"".join(parts)
    if not data.strip():
        return Rejection(rel, "empty file", STAGE)
    return Page(file=rel, index=0, date=date, html=data)


def _skipped_note(counts: WarcCounts) -> str:
    if not counts.skipped:
        return " (no records)" if not counts.records else ""
    return " (skipped: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.skipped.items())) + ")"


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


def _jsonl_articles(decoder: LineDecoder, rel: str, date: str) -> Iterator[Article | Page | Rejection]:
    index = -1
    for number, line in enumerate(decoder.lines(), start=1):
        if not line.strip():
            continue
        index += 1
        article = _jsonl_article(line, number, index, rel, date, decoder)
        decoder.forget(number + 1)
        yield article


def _jsonl_article(line: str, number: int, index: int, rel: str, date: str,
                   decoder: LineDecoder) -> Article | Page | Rejection:
    """One JSONL line as an article, or as the rejection saying why it is none."""

    def reject(reason: str, record_id: str | None = None) -> Rejection:
        return Rejection(rel, reason, STAGE, line=number, id=record_id, excerpt=excerpt(line))

    if number in decoder.cut:
        return reject(f"line longer than {decode.MAX_LINE_BYTES:,} bytes, not read")
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
    text, html = record.get("text"), record.get("html")
    if text is None and html is None:
        return reject("missing field 'text'", record_id)
    for name, value in (("text", text), ("html", html)):
        if value is not None and not isinstance(value, str):
            return reject(f"field '{name}' must be a string, got {type(value).__name__}", record_id)
    try:
        title, url, published = (_optional_string(record, f) for f in ("title", "url", "published"))
    except ValueError as error:
        return reject(str(error), record_id)
    if html is not None and html.strip():
        # The page is extracted; the record's text, if any, is used when it holds no article.
        return Page(file=rel, index=index, date=date, html=html, url=url, line=number, record_id=record_id,
                    title=title.strip() if title else None, published=published,
                    meta={k: v for k, v in record.items() if k not in JSONL_FIELDS and k != "html"},
                    decoding=decoder.fixes(number, number), text=text)
    if text is None or not text.strip():
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
