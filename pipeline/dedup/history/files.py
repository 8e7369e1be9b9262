"""One committed night of the history on disk: a folder of numpy arrays, and its lookups.

    state_dir/history/2026-11-26/   one night's kept articles, written whole, renamed in place
      COMMIT.json           the folder's own identity: night, article count, digest of its files
      docs.jsonl            [key, id, rank, n_words, exact, title, published] a line
      docs.offsets.npy      byte offset of each line (so one article is read alone)
      shingles.npy          the articles' shingle hashes, end to end (uint64)
      shingles.offsets.npy  where each article's shingles start and end
      signatures.npy        MinHash signatures (articles x num_perm, uint32)
      bands.npy             LSH band fingerprints, sorted (int64) ...
      bands.docs.npy        ... and the article each belongs to
      exact.npy             exact-duplicate keys, sorted ...
      exact.docs.npy        ... and their articles
      superseded.jsonl      earlier nights' articles this night superseded: [night, key, by]

A night is written once, never updated: a new folder, renamed over the old one (see
``history``), so a rerun replaces the night's entries and a crash leaves either the
old folder or the new one. Looking tonight's articles up is one binary search of their
band fingerprints (and exact keys) in each earlier night's sorted arrays; only the
articles found are read, so a night's cost grows with the night and the number of
nights, not with the history's size.

Every file's size and XXH3 checksum is computed as it is written: the manifest keeps
them, and a damaged file is named rather than read as a wrong answer.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence, Sized

import numpy as np
import orjson
import xxhash

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import band_fingerprints
from pipeline.io.arrays import (
    DOC_FILES,
    DocsWriter,
    FileSum,
    ShingleFile,
    StoredShingles,
    _Hashing,
    digest_of,
)
from pipeline.io.jsonl import OutputError, fsync_dir
from pipeline.io.parallel import batches

COMMIT_NAME = "COMMIT.json"
# The files of a night folder: the docs (see io.arrays), their index, what they superseded.
FILES = (*DOC_FILES, "bands.npy", "bands.docs.npy", "exact.npy", "exact.docs.npy", "superseded.jsonl")
# Bytes read at a time when a file is checksummed.
READ_BLOCK = 1 << 22
# Articles written at a time by a commit.
WRITE_CHUNK = 4096


class HistoryDamaged(RuntimeError):
    """A history file is missing, damaged or disagrees with the manifest; the message names it."""


def checksum(path: Path) -> FileSum:
    """A file's size and checksum, read in blocks."""
    digest = xxhash.xxh3_64()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return FileSum(size, digest.hexdigest())


def files_digest(files: dict[str, FileSum]) -> str:
    """What identifies a night's commit: its files' names, sizes and checksums, hashed.

    >>> files_digest({"b.npy": FileSum(8, "00ff"), "a.jsonl": FileSum(3, "1234")})
    '22af70f7429d09e5'
    """
    return digest_of((name, s.bytes, s.xxh3) for name, s in sorted(files.items()))


def write_night(folder: Path, night: str, kept: Iterable[Doc], superseded: Sequence[tuple[str, str, str]],
                config: DedupConfig) -> dict[str, FileSum]:
    """Write a night's folder (``folder`` must not exist yet) and return its files' sums:
    the docs (``io.arrays``) as they come, a chunk at a time, holding only their band
    fingerprints and exact keys; then the index, each index file flushed to disk by a
    second thread while the next one is computed and written. A write that fails raises
    :class:`OutputError` naming the file."""
    try:
        folder.mkdir()
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {folder}: {error.strerror}") from error
    # The band fingerprints go straight into arrays of the most there can be (a
    # fingerprint per band of every article), cut to those written at the end.
    most = len(kept) * config.bands if isinstance(kept, Sized) else 0
    values, articles = np.empty(most, dtype=np.int64), np.empty(most, dtype=np.int32)
    exact = []
    count = filled = 0
    with DocsWriter(folder, config.num_perm, in_place=True) as writer:
        for chunk in batches(kept, WRITE_CHUNK):
            writer.add(chunk)
            shingled = np.array([i for i, d in enumerate(chunk) if len(d.shingles)], dtype=np.int64)
            if len(shingled):
                signatures = np.stack([chunk[i].signature for i in shingled]).astype(np.uint32)
                prints = band_fingerprints(signatures, config).ravel()
                if filled + len(prints) > len(values):  # more than said: grow
                    values = np.concatenate([values[:filled], np.empty(filled + len(prints), np.int64)])
                    articles = np.concatenate([articles[:filled], np.empty(filled + len(prints), np.int32)])
                values[filled : filled + len(prints)] = prints
                articles[filled : filled + len(prints)] = np.repeat((count + shingled).astype(np.int32), config.bands)
                filled += len(prints)
            exact.append(np.array([d.exact.encode("ascii") for d in chunk]))
            count += len(chunk)
        sums = dict(writer.finish())
    values, articles = values[:filled], articles[:filled]
    exact_keys = np.concatenate(exact) if exact else np.empty(0, "S32")
    exact.clear()
    with _Syncer(folder) as syncer:
        syncer.write_columns(("bands.npy", "bands.docs.npy"), (np.int64, np.int32), len(values),
                             sorted_band_parts(values, articles))
        del values, articles
        exact_keys, exact_owners = exact_index(exact_keys)
        syncer.write("exact.npy", exact_keys)
        syncer.write("exact.docs.npy", exact_owners)
        syncer.write("superseded.jsonl", b"".join(orjson.dumps(list(entry)) + b"\n" for entry in sorted(superseded)))
    sums.update(syncer.sums)
    commit = {"night": night, "articles": count, "digest": files_digest(sums)}
    _write_synced(folder / COMMIT_NAME, orjson.dumps(commit, option=orjson.OPT_INDENT_2) + b"\n")
    fsync_dir(folder)
    return sums


def band_index(signatures: np.ndarray, lengths: np.ndarray, config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """The night's band fingerprints, sorted, and the article each belongs to (articles
    without shingles have none: they only ever match exactly)."""
    shingled = np.flatnonzero(lengths)
    prints = band_fingerprints(signatures[shingled], config).ravel() if len(shingled) else np.empty(0, np.int64)
    return sorted_bands([prints], [np.repeat(shingled, config.bands).astype(np.int32)])


def sorted_bands(prints: Sequence[np.ndarray], owners: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Band fingerprints and the article of each, given chunk by chunk, article by
    article, sorted by fingerprint then article."""
    values = np.concatenate(prints) if prints else np.empty(0, np.int64)
    articles = np.concatenate(owners) if owners else np.empty(0, np.int32)
    parts = list(sorted_band_parts(values, articles))
    return (np.concatenate([v for v, _ in parts]) if parts else values.astype(np.int64),
            np.concatenate([o for _, o in parts]) if parts else articles.astype(np.int32))


def sorted_band_parts(values: np.ndarray, articles: np.ndarray, bits: int = 4) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``values`` (band fingerprints, listed article by article) and their ``articles``
    sorted by fingerprint, then article, in parts: the fingerprints' top ``bits`` bits
    split them into ranges, each sorted alone (a stable sort keeps the articles in
    order), so that the night's index is never copied whole."""
    top = np.empty(len(values), dtype=np.int8)
    for start in range(0, len(values), 1 << 20):
        top[start : start + (1 << 20)] = values[start : start + (1 << 20)] >> (64 - bits)
    for bucket in range(-(1 << (bits - 1)), 1 << (bits - 1)):  # signed: the negative first
        where = np.flatnonzero(top == bucket)
        if not len(where):
            continue
        part = values[where]
        order = np.argsort(part, kind="stable")
        yield part[order].astype(np.int64, copy=False), articles[where][order].astype(np.int32, copy=False)


def exact_index(keys: "np.ndarray | Sequence[bytes]") -> tuple[np.ndarray, np.ndarray]:
    """The night's exact-duplicate keys (ASCII), sorted, and the article each belongs to."""
    exact = np.asarray(keys) if len(keys) else np.empty(0, "S32")
    order = np.lexsort((np.arange(len(keys)), exact))
    return exact[order], order.astype(np.int32)


@dataclass(frozen=True)
class NightFolder:
    """A committed night's folder, read."""

    path: Path

    @property
    def night(self) -> str:
        return self.path.name

    def commit_record(self) -> dict:
        return self._read(COMMIT_NAME, lambda p: orjson.loads(p.read_bytes()))

    def lookup(self, name: str, values: np.ndarray) -> Iterator[tuple[int, int]]:
        """(index in ``values``, article) for each value found in the night's sorted
        ``name`` array (``bands`` or ``exact``); ``values`` sorted makes it faster."""
        table = self.array(f"{name}.npy", mmap_mode="r")  # read where searched
        if not len(table) or not len(values):
            return
        articles = self.array(f"{name}.docs.npy", mmap_mode="r")
        start = np.searchsorted(table, values, side="left")
        hit = np.flatnonzero(table[np.minimum(start, len(table) - 1)] == values)
        for position in hit.tolist():
            k = int(start[position])
            while k < len(table) and table[k] == values[position]:  # equal values sit side by side
                yield position, int(articles[k])
                k += 1

    def read_docs(self, articles: Sequence[int], stored: bool = False) -> list[Doc]:
        """Some of the night's articles, by number, reading only their lines and shingles
        (or, ``stored``, leaving the shingles where they are until they are compared)."""
        offsets = self.array("docs.offsets.npy")
        shingle_offsets = self.array("shingles.offsets.npy")
        shingles = self.array("shingles.npy", mmap_mode="r")
        file = self._read("shingles.npy", lambda p: ShingleFile(self.path)) if stored else None
        signatures = self.array("signatures.npy", mmap_mode="r")
        out = []
        path = self.path / "docs.jsonl"
        try:
            with open(path, "rb") as handle:
                for article in articles:
                    handle.seek(int(offsets[article]))
                    key, doc_id, rank, n_words, exact, title, published = orjson.loads(
                        handle.read(int(offsets[article + 1] - offsets[article]))
                    )
                    out.append(Doc(
                        key=key, id=doc_id, night=self.night, rank=rank, n_words=n_words, exact=exact,
                        shingles=StoredShingles(file, article) if file is not None
                        else np.array(shingles[shingle_offsets[article] : shingle_offsets[article + 1]]),
                        signature=np.array(signatures[article]), title=title, published=published,
                    ))
        except (OSError, ValueError, IndexError) as error:
            raise HistoryDamaged(f"{path}: cannot read article {article}: {error}") from error
        return out

    def superseded(self) -> list[tuple[str, str, str]]:
        return self._read("superseded.jsonl", lambda p: [tuple(orjson.loads(line)) for line in p.read_bytes().splitlines()])

    def articles(self) -> int:
        return len(self.array("docs.offsets.npy")) - 1

    def all_docs(self) -> list[Doc]:
        return self.read_docs(range(self.articles()))

    def array(self, name: str, mmap_mode: str | None = None) -> np.ndarray:
        """One of the folder's ``.npy`` files, loaded (or mapped)."""
        return self._read(name, lambda p: np.load(p, mmap_mode=mmap_mode, allow_pickle=False))

    def _read(self, name: str, read):
        path = self.path / name
        try:
            return read(path)
        except (OSError, ValueError, EOFError) as error:
            raise HistoryDamaged(f"{path}: cannot be read ({error})") from error


class _Syncer:
    """Writes a folder's files, checksumming each; each one is fsynced and closed by a
    second thread while the caller goes on. Leaving the ``with`` block waits for every
    fsync and raises the first error (as :class:`OutputError`, naming the file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync")
        self.pending: list[tuple[Path, Future]] = []
        self.sums: dict[str, FileSum] = {}

    def __enter__(self) -> "_Syncer":
        return self

    def write_columns(self, names: Sequence[str], dtypes: Sequence[type], length: int,
                      parts: Iterable[Sequence[np.ndarray]]) -> None:
        """``.npy`` files of ``length`` values each, written a part at a time (a part: one
        array per file, in step): the bytes ``np.save`` gives of the whole arrays."""
        opened: list[tuple[Path, BinaryIO, _Hashing]] = []
        path = self.folder / names[0]
        try:
            for name, dtype in zip(names, dtypes):
                path = self.folder / name
                handle = open(path, "wb")
                opened.append((path, handle, _Hashing(handle)))
                np.lib.format.write_array_header_1_0(opened[-1][2], {
                    "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (length,)})
            for part in parts:
                for (path, _, hashing), array in zip(opened, part):
                    hashing.write(np.ascontiguousarray(array))
            for path, handle, _ in opened:
                handle.flush()
        except OSError as error:
            for _, handle, _ in opened:
                handle.close()
            raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
        except BaseException:
            for _, handle, _ in opened:
                handle.close()
            raise
        for path, handle, hashing in opened:
            self.sums[path.name] = FileSum(hashing.size, hashing.digest.hexdigest())
            self.pending.append((path, self.pool.submit(_sync_and_close, handle)))

    def write(self, name: str, content: "bytes | np.ndarray") -> None:
        path = self.folder / name
        try:
            handle = open(path, "wb")
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
        try:
            hashing = _Hashing(handle)
            if isinstance(content, bytes):
                hashing.write(content)
            else:
                np.lib.format.write_array(hashing, np.ascontiguousarray(content), allow_pickle=False)
            handle.flush()
        except OSError as error:
            handle.close()
            raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
        except BaseException:
            handle.close()
            raise
        self.sums[name] = FileSum(hashing.size, hashing.digest.hexdigest())
        self.pending.append((path, self.pool.submit(_sync_and_close, handle)))

    def __exit__(self, *exc_info) -> None:
        try:
            for _, future in self.pending:
                future.exception()  # wait for all of them, even after an error
            if exc_info[0] is None:
                for path, future in self.pending:
                    error = future.exception()
                    if isinstance(error, OSError):
                        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
                    future.result()
        finally:
            self.pool.shutdown()


def _sync_and_close(handle) -> None:
    try:
        os.fsync(handle.fileno())
    finally:
        handle.close()


def _write_synced(path: Path, content: bytes) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error



def count_articles(folder: Path, before: str | None = None) -> int:
    """Articles in a history folder's nights (of the nights before ``before``, if given)."""
    return sum(
        NightFolder(night).articles()
        for night in sorted(folder.iterdir())
        if night.is_dir() and not night.name.startswith(".") and (before is None or night.name < before)
    )
