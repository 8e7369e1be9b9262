"""A night's raw folder: which files it holds, how they are opened (only what belongs to
the night), how gzip is read past damage, and how the files are grouped into shards.

Nothing is dropped silently: a file that cannot be read is a :class:`Rejection`
naming it and why.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable, Iterator, NamedTuple

import xxhash

from pipeline.records import Rejection
from pipeline.text import printable

SUFFIXES = tuple(kind + gz for kind in (".txt", ".jsonl", ".html", ".htm", ".warc") for gz in ("", ".gz"))
# Bytes read from a file at a time.
READ_BLOCK = 1 << 20
# Decompressed bytes a gzip block gives at most at a time.
OUT_BLOCK = 4 << 20
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
                rejections.append(Rejection(printable(rel), "symbolic link to a folder, not followed", "list"))
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(night_dir).as_posix()
            if not _is_utf8(rel):
                # Its name could not be written in any output (JSON is UTF-8): named escaped.
                rejections.append(Rejection(printable(rel), "file name is not UTF-8, not read (rename the file)",
                                            "list"))
                continue
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


def _is_utf8(name: str) -> bool:
    """Whether a name the file system gave (undecodable bytes as lone surrogates) is UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    ``recovered`` how many bytes came out. ``members`` lists where each gzip member
    starts: (compressed offset, decompressed offset), as a WARC file's record index
    names records."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.damage, self.offset, self.recovered = handle, None, 0, 0
        self.members: list[tuple[int, int]] = [(0, 0)]

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
                # At most OUT_BLOCK bytes out of each call: 1 MB of gzip can hold 1 GB.
                out = stream.decompress(block, OUT_BLOCK)
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
                self.members.append((self.offset - len(pending), self.recovered))
            else:
                pending = stream.unconsumed_tail  # the input that output did not fit


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress gzip data, keeping what precedes any damage.

    Returns the bytes and, when the data is damaged or truncated, why.
    """
    blocks = GzipBlocks(io.BytesIO(data))
    out = b"".join(blocks)
    return out, blocks.damage


def read_blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(READ_BLOCK):
        yield block


# --- what a file held: its size and checksum ---------------------------------------------------


class RawSum(NamedTuple):
    """A raw file's content as read: its size and XXH3-64 checksum. What a stage was made
    from; a file whose sum changed since is another input (``late``, a resumed night)."""

    file: str
    bytes: int
    xxh3: str


# The sum of a file that could not be opened (a FIFO or a link swapped in): the read
# stage rejects it, and reading it again gives the same.
UNREADABLE = "unreadable"


class HashingReader:
    """A raw file's handle that checksums what is read through it; :meth:`sum` reads what
    the reader left (a page past ``max_page_bytes``, a gzip file past its damage) and gives
    the whole file's :class:`RawSum`."""

    def __init__(self, handle: BinaryIO, rel: str) -> None:
        self.handle, self.rel, self.digest, self.size = handle, rel, xxhash.xxh3_64(), 0

    def read(self, size: int = -1) -> bytes:
        block = self.handle.read(size)
        self.digest.update(block)
        self.size += len(block)
        return block

    def sum(self) -> RawSum:
        while self.read(READ_BLOCK):
            pass
        return RawSum(self.rel, self.size, self.digest.hexdigest())

    def __enter__(self) -> "HashingReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.handle.close()


# File sums of this process, by what the file system says of the file (path, size, times,
# inode): a file is read once per process for its sum, and again only once it changes.
_SUMS: dict[tuple, RawSum] = {}


def raw_sum(night_dir: Path, rel: str) -> RawSum:
    """A listed file's sum now (read as the read stage reads it, see :func:`open_raw`)."""
    return raw_sums(night_dir, [rel])[0]


def raw_sums(night_dir: Path, rels: Iterable[str]) -> list[RawSum]:
    """:func:`raw_sum` of each file: one ``stat`` a file that has not changed since this
    process summed it (a night's completion checks ask for thousands of files, again and
    again: no path objects per file)."""
    base = str(Path(night_dir).absolute())
    out = []
    for rel in rels:
        path = f"{base}/{rel}"
        try:
            stat_ = os.stat(path)
        except OSError:
            out.append(RawSum(rel, -1, UNREADABLE))
            continue
        key = (path, stat_.st_size, stat_.st_mtime_ns, stat_.st_ctime_ns, stat_.st_ino)
        found = _SUMS.get(key)
        if found is None:
            try:
                with HashingReader(open_raw(night_dir, rel), rel) as reader:
                    found = reader.sum()
            except OSError:
                out.append(RawSum(rel, -1, UNREADABLE))
                continue
            _SUMS[key] = found
        out.append(found)
    return out


def file_sizes(night_dir: Path, rels: Iterable[str]) -> tuple[int, ...]:
    """The files' sizes now (-1: gone or unreadable)."""
    base = str(Path(night_dir).absolute())
    sizes = []
    for rel in rels:
        try:
            sizes.append(os.stat(f"{base}/{rel}").st_size)
        except OSError:
            sizes.append(-1)
    return tuple(sizes)


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


def plan_night(night_dir: Path, max_bytes: int, max_files: int) -> tuple[list[Shard], list[Rejection]]:
    """The night's shards and the files rejected when listing it."""
    files, rejections = list_night(night_dir)
    sizes = [(Path(night_dir) / f).stat().st_size for f in files]
    return plan_shards(files, sizes, max_bytes, max_files), rejections
