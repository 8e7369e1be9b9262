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

import errno
import io
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Sequence

import orjson
import xxhash

from pipeline.read.decode import LineDecoder
from pipeline.read.segment import MARKER, Stray, stream_dump
from pipeline.records import Article, Rejection, excerpt

STAGE = "read"
SUFFIXES = (".txt", ".jsonl", ".txt.gz", ".jsonl.gz")
JSONL_FIELDS = ("id", "text", "title", "url", "published")
# Share of a file's characters that are control characters above which it is binary.
BINARY_CONTROL_SHARE = 0.05


@dataclass
class FileResult:
    """What one raw file gave: its articles and its rejections."""

    articles: list[Article]
    rejections: list[Rejection]


# Bytes read from a file at a time.
READ_BLOCK = 1 << 20
# Bytes at the start of a file whose control characters decide that it is binary.
BINARY_SAMPLE = 1 << 20
# Articles of a file handed on at a time (a file is read as its articles are used).
FILE_TYPES = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder"}


def list_night(night_dir: Path) -> tuple[list[str], list[Rejection]]:
    """The night's readable files (relative POSIX paths, sorted) and the rejected ones.

    Only regular files are read: FIFOs, sockets and devices are rejected (a FIFO would
    block the reader forever), and so are hidden files and files of other types.
    Symbolic links are followed only when they point to a regular file inside the
    night's folder.
    """
    night_dir = Path(night_dir)
    root = night_dir.resolve()
    files: list[str] = []
    rejections: list[Rejection] = []
    for dirpath, dirnames, filenames in os.walk(night_dir, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames):
            path = base / name
            if path.is_symlink():
                rel = path.relative_to(night_dir).as_posix()
                rejections.append(Rejection(rel, "symbolic link to a folder, not followed", "list"))
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(night_dir).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root) or not target.is_file():
                    rejections.append(
                        Rejection(rel, "symbolic link pointing outside the night's folder, not followed", "list")
                    )
                    continue
            kind = _file_kind(path)
            if kind is not None:
                rejections.append(Rejection(rel, f"not a regular file ({kind}), not read", "list"))
            elif name.startswith("."):
                rejections.append(Rejection(rel, "hidden file", "list"))
            elif not name.lower().endswith(SUFFIXES):
                rejections.append(
                    Rejection(rel, f"unsupported file type (expected {', '.join(SUFFIXES)})", "list")
                )
            else:
                files.append(rel)
    files.sort()
    rejections.sort(key=lambda r: r.file)
    return files, rejections


def _file_kind(path: Path) -> str | None:
    """What a directory entry is when it is not a regular file (None for a regular file)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "unreadable"
    return None if stat.S_ISREG(mode) else FILE_TYPES.get(stat.S_IFMT(mode), "not a file")


class NotRegularFile(OSError):
    """A listed file is something else now (a FIFO, a device, a symbolic link)."""


def open_raw(night_dir: Path, rel: str) -> BinaryIO:
    """Open a listed file of the night for reading, following no symbolic link that is
    not the night's own: every folder on the way and the file itself are opened with
    ``O_NOFOLLOW`` relative to the night's folder, so a file swapped for a link to an
    outside file after the night was listed is refused, not read; and with
    ``O_NONBLOCK``, so a FIFO swapped in is refused instead of blocking the night. A
    symbolic link the listing accepted (to a regular file inside the night) is opened
    as its target, under the same rules."""
    night_dir = Path(night_dir)
    relative = PurePosixPath(rel)
    if Path(night_dir / rel).is_symlink():
        target = (night_dir / rel).resolve()
        root = night_dir.resolve()
        if not target.is_relative_to(root):
            raise NotRegularFile(errno.ELOOP, "a symbolic link pointing outside the night's folder")
        relative = PurePosixPath(target.relative_to(root).as_posix())
    folder = os.open(night_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in relative.parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = inner
        try:
            fd = os.open(relative.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=folder)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise NotRegularFile(errno.ELOOP, "a symbolic link (it changed after the night was listed)") from error
            raise
    finally:
        os.close(folder)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, FILE_TYPES.get(stat.S_IFMT(mode), "not a file"))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class GzipBlocks:
    """The decompressed blocks of gzip data read from a file (members one after another),
    keeping what precedes any damage; once exhausted, ``damage`` says why it stopped
    early (None if it did not), ``offset`` how many compressed bytes were read and
    ``recovered`` how many bytes came out."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.damage, self.offset, self.recovered = handle, None, 0, 0

    def __iter__(self) -> Iterator[bytes]:
        stream, fed, pending = zlib.decompressobj(16 + zlib.MAX_WBITS), False, b""
        while True:
            if pending:
                block, pending = pending, b""
            else:
                block = self.handle.read(READ_BLOCK)
                self.offset += len(block)
            if not block:
                if fed and not stream.eof:
                    tail = stream.flush()
                    self.recovered += len(tail)
                    if tail:
                        yield tail
                    self.damage = "truncated gzip data (file ends mid-stream)"
                return
            try:
                out = stream.decompress(block)
            except zlib.error as error:
                self.damage = f"damaged gzip data: {error}"
                return
            fed = True
            self.recovered += len(out)
            if out:
                yield out
            if stream.eof:  # a member ends; what follows is the next one
                pending = stream.unused_data
                stream, fed = zlib.decompressobj(16 + zlib.MAX_WBITS), False


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress gzip data, keeping what precedes any damage.

    Returns the bytes and, when the data is damaged or truncated, why.
    """
    blocks = GzipBlocks(io.BytesIO(data))
    out = b"".join(blocks)
    return out, blocks.damage


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(READ_BLOCK):
        yield block


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
            decoder = LineDecoder(iter(blocks) if blocks is not None else _blocks(handle))
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


@dataclass(frozen=True)
class Shard:
    """A group of a night's files processed by one task of each per-file stage."""

    index: int
    files: tuple[str, ...]
    sizes: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return self.name_of(self.index)

    @staticmethod
    def name_of(index: int) -> str:
        return f"shard-{index:05d}"

    @property
    def digest(self) -> str:
        """The shard's files and sizes, hashed: what names the shard's tasks beside its
        index, so that a task parameter stays short however many files a shard holds.

        >>> Shard(0, ("a.txt", "b.txt"), (10, 20)).digest
        '56841cecbc3f'
        """
        listing = "".join(f"{name}\t{size}\n" for name, size in zip(self.files, self.sizes))
        return xxhash.xxh3_64_hexdigest(listing.encode("utf-8"))[:12]


def plan_shards(files: list[str], sizes: list[int], max_bytes: int, max_files: int) -> list[Shard]:
    """Group files (in order) into shards of at most ``max_bytes`` and ``max_files``.

    A file larger than ``max_bytes`` is a shard of its own; the plan depends only on
    the file list and sizes, so every worker computes the same shards.

    >>> [s.files for s in plan_shards(["a", "b", "c", "d"], [5, 5, 20, 1], 10, 3)]
    [('a', 'b'), ('c',), ('d',)]
    """
    shards: list[Shard] = []
    current: list[tuple[str, int]] = []
    current_bytes = 0
    for name, size in zip(files, sizes):
        if current and (current_bytes + size > max_bytes or len(current) >= max_files):
            shards.append(Shard(len(shards), *map(tuple, zip(*current))))
            current, current_bytes = [], 0
        current.append((name, size))
        current_bytes += size
    if current:
        shards.append(Shard(len(shards), *map(tuple, zip(*current))))
    return shards


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


def plan_night(night_dir: Path, max_bytes: int, max_files: int) -> tuple[list[Shard], list[Rejection]]:
    """The night's shards and the files rejected when listing it."""
    files, rejections = list_night(night_dir)
    sizes = [(Path(night_dir) / f).stat().st_size for f in files]
    return plan_shards(files, sizes, max_bytes, max_files), rejections
