"""The embedded history: one folder of numpy arrays per committed night (the default).

    state_dir/history/
      SETTINGS                the dedup settings the history was built with
      .lock                   readers share it, a commit takes it alone
      2026-11-26/             one night's kept articles, written whole and renamed in place
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

A night is written once, never updated: committing a night writes a new folder and
renames it over the old one, so a rerun replaces the night's entries and a crash
leaves either the old folder or the new one. Looking tonight's articles up is one
binary search of their band fingerprints (and exact keys) in each earlier night's
sorted arrays; only the articles found are read. That keeps a night's cost
proportional to the night and the number of nights, with no B-tree to update: the
SQLite index this replaces spent most of the dedup stage inserting band rows.

A history written by the earlier SQLite store (``state_dir/history.sqlite``) is
converted on first open and the file renamed ``history.sqlite.migrated``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import orjson

from pipeline.dedup import DedupConfig, Doc, band_fingerprints
from pipeline.history import HistoryMismatch, SqliteHistory, Superseded, in_window, settings_fingerprint

STORE = "files-1"
SETTINGS_NAME = "SETTINGS"
LOCK_NAME = ".lock"
MIGRATED_SUFFIX = ".migrated"


class FileHistory:
    """History in night folders; see the module docstring."""

    def __init__(self, folder: Path, config: DedupConfig, legacy_sqlite: Path | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.config = folder, config
        self._lock = open(folder / LOCK_NAME, "a+b")
        with self._locked(fcntl.LOCK_EX):
            self._check_settings()
            self._recover()
            if legacy_sqlite is not None and legacy_sqlite.exists():
                self._migrate(legacy_sqlite)

    # --- the History protocol -------------------------------------------------------------

    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        if not docs:
            return {}
        shingled = np.array([i for i, d in enumerate(docs) if len(d.shingles)], dtype=np.int64)
        if len(shingled):
            prints = band_fingerprints(np.stack([docs[i].signature for i in shingled]), self.config).ravel()
            band_owner = np.repeat(shingled, self.config.bands)
        else:
            prints, band_owner = np.empty(0, np.int64), np.empty(0, np.int64)
        exact = np.array([d.exact.encode("ascii") for d in docs])
        # Sorted needles make each night's binary searches several times faster.
        band_order, exact_order = np.argsort(prints, kind="stable"), np.argsort(exact, kind="stable")
        prints, band_owner, exact = prints[band_order], band_owner[band_order], exact[exact_order]
        found: dict[int, set[tuple[str, int]]] = defaultdict(set)  # tonight's doc -> (night, article)
        with self._locked(fcntl.LOCK_SH):
            nights = self._nights()
            superseded = {
                (old_night, key)
                for m in nights if m < night
                for old_night, key, _by in self._superseded(m)
            }
            for m in (m for m in nights if in_window(m, None, night, since)):
                folder = self.folder / m
                for values, owners, name in ((prints, band_owner, "bands"), (exact, exact_order, "exact")):
                    for position, article in _lookup(folder, name, values):
                        found[int(owners[position])].add((m, article))
            wanted: dict[str, set[int]] = defaultdict(set)
            for hits in found.values():
                for m, article in hits:
                    wanted[m].add(article)
            loaded = {
                (m, article): doc
                for m, articles in sorted(wanted.items())
                for article, doc in zip(sorted(articles), _read_docs(self.folder / m, sorted(articles)))
            }
        out: dict[str, list[Doc]] = {}
        for i in sorted(found, key=lambda i: docs[i].key):
            matches = {
                doc.key: doc for doc in (loaded[hit] for hit in found[i])
                if (doc.night, doc.key) not in superseded
            }
            if matches:
                out[docs[i].key] = [matches[key] for key in sorted(matches)]
        return out

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[Superseded]) -> None:
        with self._locked(fcntl.LOCK_EX):
            self._write_night(night, kept, [tuple(entry) for entry in superseded])

    def close(self) -> None:
        self._lock.close()

    # --- storage ----------------------------------------------------------------------------

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        fcntl.flock(self._lock, mode)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _check_settings(self) -> None:
        fingerprint = f"{settings_fingerprint(self.config)}-{STORE}"
        path = self.folder / SETTINGS_NAME
        if not path.exists():
            _write_atomic(path, fingerprint.encode() + b"\n")
            return
        found = path.read_text().strip()
        if found != fingerprint:
            raise HistoryMismatch(
                f"{self.folder} was built with dedup settings {found}, not {fingerprint}: "
                "move it away (or restore the settings) before running"
            )

    def _nights(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _recover(self) -> None:
        """Finish or undo a commit that was interrupted (called under the exclusive lock)."""
        for path in sorted(self.folder.glob(".*.tmp-*")):
            shutil.rmtree(path)
        for path in sorted(self.folder.glob(".*.old-*")):
            night = path.name[1:].split(".old-")[0]
            if (self.folder / night).exists():
                shutil.rmtree(path)
            else:  # killed between the two renames: the previous version is the night's
                path.rename(self.folder / night)

    def _superseded(self, night: str) -> list[list[str]]:
        path = self.folder / night / "superseded.jsonl"
        return [orjson.loads(line) for line in path.read_bytes().splitlines()]

    def _write_night(self, night: str, kept: Sequence[Doc], superseded: Sequence[tuple[str, str, str]]) -> None:
        tmp = self.folder / f".{night}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        # Each file is flushed to disk by a second thread while the next one is computed
        # and written (fsync waits for the disk, not the processor); the largest first.
        with _Syncer(tmp) as syncer:
            lengths = np.array([len(d.shingles) for d in kept], dtype=np.int64)
            shingle_offsets = np.zeros(len(kept) + 1, dtype=np.int64)
            np.cumsum(lengths, out=shingle_offsets[1:])
            syncer.write("shingles.npy", _Streamed(np.dtype("<u8"), int(shingle_offsets[-1]),
                                                   [d.shingles for d in kept]))
            syncer.write("shingles.offsets.npy", shingle_offsets)
            lines = [
                orjson.dumps([d.key, d.id, d.rank, d.n_words, d.exact, d.title, d.published]) + b"\n" for d in kept
            ]
            offsets = np.zeros(len(kept) + 1, dtype=np.int64)
            np.cumsum([len(line) for line in lines], out=offsets[1:])
            syncer.write("docs.jsonl", b"".join(lines))
            syncer.write("docs.offsets.npy", offsets)
            signatures = (
                np.stack([d.signature for d in kept]).astype(np.uint32)
                if kept else np.empty((0, self.config.num_perm), np.uint32)
            )
            syncer.write("signatures.npy", signatures)
            shingled = np.flatnonzero(lengths)
            if len(shingled):
                prints = band_fingerprints(signatures[shingled], self.config).ravel()
                owners = np.repeat(shingled, self.config.bands)
            else:
                prints, owners = np.empty(0, np.int64), np.empty(0, np.int64)
            order = np.lexsort((owners, prints))
            syncer.write("bands.npy", prints[order].astype(np.int64))
            syncer.write("bands.docs.npy", owners[order].astype(np.int32))
            exact = np.array([d.exact.encode("ascii") for d in kept]) if kept else np.empty(0, "S32")
            exact_order = np.lexsort((np.arange(len(kept)), exact))
            syncer.write("exact.npy", exact[exact_order])
            syncer.write("exact.docs.npy", exact_order.astype(np.int32))
            syncer.write("superseded.jsonl", b"".join(orjson.dumps(list(entry)) + b"\n" for entry in sorted(superseded)))
        _fsync_dir(tmp)
        final = self.folder / night
        old = self.folder / f".{night}.old-{os.getpid()}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        _fsync_dir(self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def _migrate(self, path: Path) -> None:
        """Rewrite a SQLite history (schema 2) as night folders, then set the file aside."""
        legacy = SqliteHistory(path, self.config)  # refuses other settings, like this store
        try:
            for night, kept, superseded in legacy.export():
                self._write_night(night, kept, superseded)
        finally:
            legacy.close()
        path.rename(path.with_name(path.name + MIGRATED_SUFFIX))


class _Syncer:
    """Writes a folder's files; each one is fsynced and closed by a second thread while
    the caller goes on. Leaving the ``with`` block waits for every fsync and raises the
    first error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync")
        self.pending: list[Future] = []

    def __enter__(self) -> "_Syncer":
        return self

    def write(self, name: str, content: "bytes | np.ndarray | _Streamed") -> None:
        handle = open(self.folder / name, "wb")
        try:
            if isinstance(content, bytes):
                handle.write(content)
            elif isinstance(content, _Streamed):
                content.write(handle)
            else:
                np.save(handle, content, allow_pickle=False)
            handle.flush()
        except BaseException:
            handle.close()
            raise
        self.pending.append(self.pool.submit(_sync_and_close, handle))

    def __exit__(self, *exc_info) -> None:
        try:
            for future in self.pending:
                future.exception()  # wait for all of them, even after an error
            if exc_info[0] is None:
                for future in self.pending:
                    future.result()
        finally:
            self.pool.shutdown()


def _sync_and_close(handle) -> None:
    try:
        os.fsync(handle.fileno())
    finally:
        handle.close()


class _Streamed:
    """A 1-D ``.npy`` written piece by piece: the articles' shingles end to end, without
    the copy of all of them a concatenation makes (hundreds of MB on a large night)."""

    def __init__(self, dtype: np.dtype, length: int, pieces: Sequence[np.ndarray]) -> None:
        self.dtype, self.length, self.pieces = dtype, length, pieces

    def write(self, handle) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.length,)}
        np.lib.format.write_array_header_1_0(handle, header)
        for piece in self.pieces:
            handle.write(np.ascontiguousarray(piece, dtype=self.dtype).data)


def _lookup(folder: Path, name: str, values: np.ndarray) -> Iterator[tuple[int, int]]:
    """(index in ``values``, article) for each value found in the night's sorted ``name`` array."""
    table = np.load(folder / f"{name}.npy")
    if not len(table) or not len(values):
        return
    articles = np.load(folder / f"{name}.docs.npy")
    start = np.searchsorted(table, values, side="left")
    hit = np.flatnonzero(table[np.minimum(start, len(table) - 1)] == values)
    for position in hit.tolist():
        k = int(start[position])
        while k < len(table) and table[k] == values[position]:  # equal values sit side by side
            yield position, int(articles[k])
            k += 1


def _read_docs(folder: Path, articles: Sequence[int]) -> list[Doc]:
    """Some of a night's articles, by number, reading only their lines and shingles."""
    offsets = np.load(folder / "docs.offsets.npy")
    shingle_offsets = np.load(folder / "shingles.offsets.npy")
    shingles = np.load(folder / "shingles.npy", mmap_mode="r")
    signatures = np.load(folder / "signatures.npy", mmap_mode="r")
    night = folder.name
    out = []
    with open(folder / "docs.jsonl", "rb") as handle:
        for article in articles:
            handle.seek(int(offsets[article]))
            key, doc_id, rank, n_words, exact, title, published = orjson.loads(
                handle.read(int(offsets[article + 1] - offsets[article]))
            )
            out.append(Doc(
                key=key, id=doc_id, night=night, rank=rank, n_words=n_words, exact=exact,
                shingles=np.array(shingles[shingle_offsets[article] : shingle_offsets[article + 1]]),
                signature=np.array(signatures[article]), title=title, published=published,
            ))
    return out


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def count_articles(folder: Path, before: str | None = None) -> int:
    """Articles in a history folder (of the nights before ``before``, if given)."""
    return sum(
        len(np.load(night / "docs.offsets.npy")) - 1
        for night in sorted(folder.iterdir())
        if night.is_dir() and not night.name.startswith(".") and (before is None or night.name < before)
    )
