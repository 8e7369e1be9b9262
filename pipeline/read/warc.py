"""WARC files (ISO 28500: Common Crawl, wget, Heritrix, browsertrix) to pages.

A WARC file is records one after another, each ``WARC/1.x`` headers and a block of
``Content-Length`` bytes; a ``.warc.gz`` file compresses each record as a gzip member
of its own. The pages are the ``response`` records whose HTTP status is 200 and whose
content is HTML; every other record is skipped and counted by kind (``request``,
``metadata``, ``response image/jpeg``, ``response 404`` ...). A record that is broken
(no WARC header, no length, cut short) is rejected with its offset and why; the records
before it are read, and reading stops there, since where the next record starts is then
unknown.

Offsets are where the record starts in the file: in a ``.warc.gz``, the offset of its
gzip member, as CDX indexes and ``warcio extract`` use them.

The reader is our own, not warcio's iterator: warcio reads a truncated record as a
short one without a word, and takes text that is not a WARC for records.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from pipeline.read.files import GzipBlocks
from pipeline.read.html import Page
from pipeline.records import Rejection, excerpt

STAGE = "read"
# Longest header line read (a WARC or HTTP header); longer is a broken record.
MAX_HEADER_LINE = 65536
# Most header lines a record may have.
MAX_HEADER_LINES = 1000
HTML_TYPES = ("text/html", "application/xhtml+xml")


class WarcError(ValueError):
    """A record that cannot be read; the message says why."""


class _Stream:
    """Bytes from blocks, read by lines and by counts, knowing its position."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks, self.buffer, self.position = blocks, b"", 0

    def _fill(self) -> bool:
        block = next(self.blocks, None)
        if block is None:
            return False
        self.buffer = self.buffer + block if self.buffer else block
        return True

    def at_end(self) -> bool:
        return not self.buffer and not self._fill()

    def skip_blank_lines(self) -> None:
        """Past the line ends between records (a record's block is followed by two)."""
        while True:
            if len(self.buffer) < 2 and not self._fill() and not self.buffer:
                return
            if self.buffer.startswith(b"\r\n"):
                self._take(2)
            elif self.buffer.startswith(b"\n"):
                self._take(1)
            else:
                return

    def readline(self) -> bytes:
        """A line with its end (at most MAX_HEADER_LINE bytes), or what is left at the end."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                return self._take(end + 1)
            if len(self.buffer) > MAX_HEADER_LINE:
                raise WarcError(f"header line longer than {MAX_HEADER_LINE} bytes")
            if not self._fill():
                return self._take(len(self.buffer))

    def read(self, count: int) -> bytes:
        """``count`` bytes, fewer only at the end."""
        while len(self.buffer) < count and self._fill():
            pass
        return self._take(min(count, len(self.buffer)))

    def skip(self, count: int) -> int:
        """Skip ``count`` bytes without keeping them; returns how many there were."""
        skipped = 0
        while skipped < count:
            if not self.buffer and not self._fill():
                break
            step = min(count - skipped, len(self.buffer))
            self._take(step)
            skipped += step
        return skipped

    def _take(self, count: int) -> bytes:
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        self.position += len(out)
        return out


@dataclass
class WarcCounts:
    """What a WARC file held: its records, pages, and the records skipped, by kind."""

    records: int = 0
    pages: int = 0
    skipped: Counter = field(default_factory=Counter)


def _headers(stream: _Stream) -> dict[str, str]:
    """Header lines up to the blank line, names lower-cased (continuation lines joined)."""
    headers: dict[str, str] = {}
    name = None
    for _ in range(MAX_HEADER_LINES):
        line = stream.readline()
        if not line.endswith(b"\n"):
            raise WarcError("record cut short: the file ends inside its headers")
        if line in (b"\r\n", b"\n"):
            return headers
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if text[:1] in (" ", "\t") and name is not None:
            headers[name] += " " + text.strip()
            continue
        name, colon, value = text.partition(":")
        if not colon:
            raise WarcError(f"header line without a colon: {text[:60]!r}")
        name = name.strip().lower()
        headers[name] = value.strip()
    raise WarcError(f"more than {MAX_HEADER_LINES} header lines")


def warc_pages(blocks: Iterator[bytes], rel: str, date: str, max_bytes: int, counts: WarcCounts,
               gzip_blocks: GzipBlocks | None = None) -> Iterator[Page | Rejection]:
    """The pages of a WARC file's decompressed ``blocks`` (``gzip_blocks``: the reader of
    a ``.warc.gz``, for its members' offsets); ``counts`` is filled as it goes."""
    stream = _Stream(blocks)
    members: dict[int, int] = {}  # decompressed offset -> compressed offset, of each gzip member
    known = 0
    while True:
        stream.skip_blank_lines()
        start = stream.position
        if stream.at_end():
            break
        if gzip_blocks is not None:
            members.update((plain, packed) for packed, plain in gzip_blocks.members[known:])
            known = len(gzip_blocks.members)
        offset = members.get(start, start)
        try:
            version = stream.readline()
            if not version.endswith(b"\n") and version.startswith(b"WARC/"[: len(version)]):
                raise WarcError("record cut short: the file ends inside its headers")
            if not version.startswith(b"WARC/"):
                raise WarcError(f"no WARC record here (starts {excerpt(version[:40])!r})")
            headers = _headers(stream)
            try:
                length = int(headers.get("content-length", ""))
            except ValueError:
                raise WarcError("record without a valid Content-Length") from None
            if length < 0:
                raise WarcError("record with a negative Content-Length")
            kind = headers.get("warc-type", "unknown")
            counts.records += 1
            if kind != "response" or "application/http" not in headers.get("content-type", "application/http"):
                _skip_block(stream, length)
                counts.skipped[kind] += 1
                continue
            item = _response(stream, length, headers, rel, date, counts.pages, offset, max_bytes, counts)
        except WarcError as error:
            yield Rejection(rel, f"broken WARC record: {error}; the rest of the file is not read", STAGE,
                            offset=offset)
            return
        if isinstance(item, Page):
            counts.pages += 1
        if item is not None:
            yield item


def _skip_block(stream: _Stream, length: int) -> None:
    if stream.skip(length) < length:
        raise WarcError(f"record cut short: the file ends within its {length:,} bytes")


def _response(stream: _Stream, length: int, warc: dict[str, str], rel: str, date: str, index: int,
              offset: int, max_bytes: int, counts: WarcCounts) -> Page | Rejection | None:
    """A response record's page, the rejection of a page too large, or None (skipped)."""
    start = stream.position
    status_line = stream.readline()
    http = _headers(stream)
    head = stream.position - start
    if head > length:
        raise WarcError("HTTP headers longer than the record")
    body_length = length - head
    status = status_line.split(b" ", 2)[1:2]
    status_code = status[0].decode("ascii", errors="replace") if status else "?"
    content_type = http.get("content-type", "")
    if status_code != "200":
        _skip_block(stream, body_length)
        counts.skipped[f"response {status_code}"] += 1
        return None
    if content_type and not content_type.lower().startswith(HTML_TYPES):
        _skip_block(stream, body_length)
        counts.skipped[f"response {content_type.split(';')[0].strip().lower() or 'without type'}"] += 1
        return None
    if body_length > max_bytes and not http.get("content-encoding"):
        _skip_block(stream, body_length)
        return Rejection(rel, f"page larger than {max_bytes:,} bytes (max_page_bytes)", STAGE, offset=offset,
                         id=warc.get("warc-record-id"), excerpt=warc.get("warc-target-uri", ""))
    body = stream.read(body_length)
    if len(body) < body_length:
        raise WarcError(f"record cut short: the file ends {body_length - len(body):,} bytes early")
    try:
        body = _decoded_body(body, http, max_bytes)
    except WarcError as error:
        return Rejection(rel, f"response body unreadable: {error}", STAGE, offset=offset,
                         id=warc.get("warc-record-id"), excerpt=warc.get("warc-target-uri", ""))
    if not content_type and not _looks_like_html(body):
        counts.skipped["response without type, not HTML"] += 1
        return None
    return Page(
        file=rel, index=index, date=date, html=body, content_type=content_type or None,
        url=warc.get("warc-target-uri") or None, offset=offset, fetched=warc.get("warc-date"),
        last_modified=http.get("last-modified"),
        meta={name: value for name, value in (("fetched", warc.get("warc-date")),
                                              ("warc_record_id", warc.get("warc-record-id"))) if value},
    )


def _decoded_body(body: bytes, http: dict[str, str], max_bytes: int) -> bytes:
    """The payload as the server meant it: chunks joined, compression undone (at most
    ``max_bytes`` decompressed)."""
    if "chunked" in http.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    encoding = http.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        try:
            decompressor = zlib.decompressobj(wbits)
            body = decompressor.decompress(body, max_bytes + 1)
        except zlib.error as error:
            raise WarcError(f"{encoding} content damaged: {error}") from None
    elif encoding == "br":
        try:
            import brotli
        except ImportError:
            raise WarcError("content compressed with brotli, and the brotli module is not installed") from None
        try:
            body = brotli.Decompressor().process(body, output_buffer_limit=max_bytes + 1)
        except brotli.error as error:
            raise WarcError(f"brotli content damaged: {error}") from None
    elif encoding not in ("", "identity"):
        raise WarcError(f"unknown content encoding {encoding!r}")
    if len(body) > max_bytes:
        raise WarcError(f"page larger than {max_bytes:,} bytes (max_page_bytes)")
    return body


def _dechunk(body: bytes) -> bytes:
    """HTTP chunked transfer coding undone (a body that is not chunked after all is kept
    as it is: some crawlers store the joined body with the header left in)."""
    parts, position = [], 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            return body
        try:
            size = int(body[position:end].split(b";")[0].strip(), 16)
        except ValueError:
            return body
        if size == 0:
            return b"".join(parts)
        parts.append(body[end + 2 : end + 2 + size])
        position = end + 2 + size + 2


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<!--")) or b"<html" in head
