"""Dedup's per-article fingerprints on disk: one folder of arrays, the same for a shard's
sign stage (``stages/4-sign/shard-NNNNN.docs/``) and a night of the history.

    docs.jsonl            [key, id, rank, n_words, exact, title, published] a line
    docs.offsets.npy      byte offset of each line (so one article is read alone)
    shingles.npy          the articles' shingle hashes, end to end (uint64)
    shingles.offsets.npy  where each article's shingles start and end
    signatures.npy        MinHash signatures (articles x num_perm, uint32)

Shingle sets and signatures are numbers, kept apart from the JSONL stages: read as
numpy arrays, a shard or an article at a time (``dedup.night.NightSigns``,
``ShingleFile``), they are what makes dedup fast. The
files are written as the articles come (``DocsWriter``), so a shard of any size is
fingerprinted with the memory of one chunk, and checksummed on the way.
"""

from __future__ import annotations

import os
import shutil
from array import array
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO, Iterable, NamedTuple, Sequence

import numpy as np
import orjson
import xxhash

from pipeline.dedup.doc import Doc
from pipeline.io.jsonl import OutputError, current_umask, fsync_dir, run_tag, stale_folders

DOC_FILES = ("shingles.npy", "shingles.offsets.npy", "docs.jsonl", "docs.offsets.npy", "signatures.npy")
# Bytes of an appended .npy's header: the shape is written once the rows are counted.
NPY_HEADER_BYTES = 128


class FileSum(NamedTuple):
    """A file's size and XXH3-64 checksum (hexadecimal)."""

    bytes: int
    xxh3: str


def digest_of(files: Iterable[Sequence]) -> str:
    """What identifies files: their (name, bytes, xxh3), hashed in order (a night's raw
    files, a shard's, a history night's folder).

    >>> digest_of([("a.txt", 3, "00ff")])
    '1fb1e1132fc2fd17'
    """
    listing = "".join(f"{name}\t{size}\t{xxh3}\n" for name, size, xxh3 in files)
    return xxhash.xxh3_64_hexdigest(listing.encode("utf-8"))


class _Hashing:
    """A binary file that checksums and counts what is written to it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.digest, self.size = handle, xxhash.xxh3_64(), 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        return self.handle.write(view)

    def sum(self) -> FileSum:
        return FileSum(self.size, self.digest.hexdigest())


class NpyAppender:
    """A ``.npy`` file whose rows are appended: its header (shape unknown until the end)
    is reserved first and written last, padded to ``NPY_HEADER_BYTES`` (numpy reads any
    header length). Checksummed as a whole when closed."""

    def __init__(self, path: Path, dtype: np.dtype, row: tuple[int, ...] = ()) -> None:
        self.path, self.dtype, self.row, self.rows = path, np.dtype(dtype), row, 0
        self.handle = open(path, "w+b")
        self.handle.write(b"\0" * NPY_HEADER_BYTES)

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        self.rows += len(values)
        self.handle.write(memoryview(values).cast("B"))

    def close(self) -> FileSum:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.rows, *self.row)}
        text = repr(header).encode("latin1")
        padding = NPY_HEADER_BYTES - 10 - len(text) - 1
        if padding < 0:
            raise ValueError(f"{self.path}: header too long")
        self.handle.seek(0)
        self.handle.write(b"\x93NUMPY\x01\x00" + (NPY_HEADER_BYTES - 10).to_bytes(2, "little") + text
                          + b" " * padding + b"\n")
        self.handle.flush()
        self.handle.seek(0)
        digest, size = xxhash.xxh3_64(), 0
        while block := self.handle.read(1 << 22):
            digest.update(block)
            size += len(block)
        os.fsync(self.handle.fileno())
        self.handle.close()
        return FileSum(size, digest.hexdigest())


class DocsWriter:
    """Writes a docs folder as articles are added; it appears in place, complete, when
    :meth:`finish` is called (written under a temporary name, then renamed), unless
    ``in_place`` (the folder is someone else's temporary one). Leaving the ``with`` block
    on an error removes what was written."""

    def __init__(self, folder: Path, num_perm: int, in_place: bool = False) -> None:
        self.folder = Path(folder)
        self.work = self.folder if in_place else self.folder.with_name(f".{self.folder.name}.tmp-{run_tag()}")
        self.in_place = in_place
        try:
            if not in_place:
                self.folder.parent.mkdir(parents=True, exist_ok=True)
                for stale in stale_folders(self.folder.parent, self.folder.name):  # a killed run's
                    shutil.rmtree(stale, ignore_errors=True)
                self.work.mkdir(mode=0o777 & ~current_umask())
            self.docs = _Hashing(open(self.work / "docs.jsonl", "wb"))
            self.shingles = NpyAppender(self.work / "shingles.npy", np.uint64)
            self.signatures = NpyAppender(self.work / "signatures.npy", np.uint32, (num_perm,))
        except OSError as error:
            if not in_place:
                shutil.rmtree(self.work, ignore_errors=True)  # the files opened close with it
            raise OutputError(error.errno, f"cannot write {self.work}: {error.strerror}") from error
        self.doc_offsets, self.shingle_offsets = array("q", [0]), array("q", [0])  # 8 bytes each
        self.sums: dict[str, FileSum] = {}

    def __enter__(self) -> "DocsWriter":
        return self

    def add(self, docs: Sequence[Doc]) -> None:
        try:
            if not docs:
                return
            lines = []  # the batch's lines and shingles written at once: a write each, not one an article
            for doc in docs:
                line = orjson.dumps([doc.key, doc.id, doc.rank, doc.n_words, doc.exact, doc.title, doc.published]) + b"\n"
                lines.append(line)
                self.doc_offsets.append(self.doc_offsets[-1] + len(line))
                self.shingle_offsets.append(self.shingle_offsets[-1] + len(doc.shingles))
            self.docs.write(b"".join(lines))
            self.shingles.append(np.concatenate([doc.shingles for doc in docs]))
            self.signatures.append(np.stack([doc.signature for doc in docs]))
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {self.work}: {error.strerror}") from error

    def finish(self) -> dict[str, FileSum]:
        """Complete the files (fsynced) and put the folder in place; their sums."""
        try:
            self.sums["shingles.npy"] = self.shingles.close()
            self.sums["signatures.npy"] = self.signatures.close()
            self.docs.handle.flush()
            os.fsync(self.docs.handle.fileno())
            self.docs.handle.close()
            self.sums["docs.jsonl"] = self.docs.sum()
            for name, offsets in (("docs.offsets.npy", self.doc_offsets), ("shingles.offsets.npy", self.shingle_offsets)):
                with open(self.work / name, "wb") as handle:
                    hashing = _Hashing(handle)
                    np.lib.format.write_array(hashing, np.array(offsets, dtype=np.int64), allow_pickle=False)
                    handle.flush()
                    os.fsync(handle.fileno())
                self.sums[name] = hashing.sum()
            if not self.in_place:
                fsync_dir(self.work)
                old = self.folder.with_name(f".{self.folder.name}.old-{run_tag()}")
                if self.folder.exists():
                    self.folder.rename(old)
                self.work.rename(self.folder)
                shutil.rmtree(old, ignore_errors=True)
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {self.work}: {error.strerror}") from error
        return self.sums

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self._discard()

    def _discard(self) -> None:
        """Remove what was written (on a full disk, closing a file fails too: ignored)."""
        for handle in (self.docs.handle, self.shingles.handle, self.signatures.handle):
            try:
                handle.close()
            except OSError:
                pass
        if not self.in_place:
            shutil.rmtree(self.work, ignore_errors=True)


def save_docs(folder: Path | str, docs: Sequence[Doc], num_perm: int) -> None:
    """Write docs as a folder, atomically (an empty folder of docs is valid)."""
    with DocsWriter(Path(folder), num_perm) as writer:
        writer.add(docs)
        writer.finish()


class ShingleCache:
    """The shingles last used, by (file, article), up to ``budget`` bytes (least recently
    used first out): shared by the files a dedup step reads, so that what it holds does
    not grow with their number."""

    def __init__(self, budget: int = 64 << 20) -> None:
        self.budget, self.size = budget, 0
        self.arrays: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def get(self, key: tuple[int, int]) -> np.ndarray | None:
        found = self.arrays.get(key)
        if found is not None:
            self.arrays.move_to_end(key)
        return found

    def put(self, key: tuple[int, int], array: np.ndarray) -> None:
        self.arrays[key] = array
        self.size += array.nbytes
        while self.size > self.budget and self.arrays:
            self.size -= self.arrays.popitem(last=False)[1].nbytes


class ShingleFile:
    """A folder's ``shingles.npy``, read one article at a time (``read``): the articles
    dedup compares are read when compared, so a night's shingles are never all in
    memory, nor mapped. What is read is kept in ``cache`` (shared by several files)."""

    def __init__(self, folder: Path, cache: ShingleCache | None = None) -> None:
        path = Path(folder) / "shingles.npy"
        self.offsets = np.load(Path(folder) / "shingles.offsets.npy")
        try:
            array = np.load(path, mmap_mode="r")
            self.start = array.offset if isinstance(array, np.memmap) else 0
            del array
        except ValueError:  # an empty file: nothing to map, nothing to read
            self.start = 0
        self.handle = open(path, "rb")
        self.cache = cache if cache is not None else ShingleCache()

    def count(self, article: int) -> int:
        return int(self.offsets[article + 1] - self.offsets[article])

    def read(self, article: int, keep: bool = True) -> np.ndarray:
        """An article's shingles, from the cache or the file (then kept in the cache,
        unless not ``keep``: a reader with a cache of its own)."""
        key = (id(self), article)
        found = self.cache.get(key)
        if found is None:
            found = np.empty(self.count(article), dtype=np.uint64)
            if len(found):
                got = os.preadv(self.handle.fileno(), [memoryview(found).cast("B")],
                                self.start + 8 * int(self.offsets[article]))
                if got != found.nbytes:
                    raise ValueError(f"{self.handle.name}: article {article}: {got} of {found.nbytes} bytes")
            if keep:
                self.cache.put(key, found)
        return found


class StoredShingles:
    """An article's shingles as dedup holds them until it compares the article: where
    they are (``len`` is their count, ``array()`` reads them)."""

    __slots__ = ("file", "article")

    def __init__(self, file: ShingleFile, article: int) -> None:
        self.file, self.article = file, article

    def __len__(self) -> int:
        return self.file.count(self.article)

    def array(self) -> np.ndarray:
        return self.file.read(self.article)


def shingle_array(shingles: "np.ndarray | StoredShingles") -> np.ndarray:
    """An article's shingles, read if they are stored."""
    return shingles if isinstance(shingles, np.ndarray) else shingles.array()
