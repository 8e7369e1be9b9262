"""The embedded history before the night folders: one SQLite file (``state_dir/history.sqlite``).

Kept only to read the histories it wrote and convert them: ``history.History`` takes
over a SQLite history found in its state folder on first open (1,000,000 articles in
about 33 s) and renames the file ``history.sqlite.migrated``. Its LSH index is a
table of (band fingerprint, article).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import band_fingerprints
from pipeline.dedup.history.base import HistoryMismatch, Superseded, in_window, settings_fingerprint

# SQLite page cache (KiB): the band index's upper levels stay in memory.
SQLITE_CACHE_KB = 65536
# Values per "IN (...)" list (SQLite allows 32766 parameters a statement).
SQLITE_IN_LIST = 30000

_DOC_COLUMNS = "hkey, night, id, rank, n_words, exact, title, published, shingles, signature"


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqliteHistory:
    """History in one SQLite file (see the module docstring)."""

    SCHEMA = "2"

    def __init__(self, path: Path, config: DedupConfig) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.db = sqlite3.connect(path, timeout=600, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS docs (
                doc INTEGER PRIMARY KEY, hkey TEXT NOT NULL UNIQUE, night TEXT NOT NULL, id TEXT NOT NULL,
                rank INTEGER NOT NULL, n_words INTEGER NOT NULL, exact TEXT NOT NULL, title TEXT,
                published TEXT, shingles BLOB NOT NULL, signature BLOB NOT NULL,
                superseded_by TEXT, superseded_night TEXT);
            CREATE INDEX IF NOT EXISTS docs_night ON docs(night);
            CREATE INDEX IF NOT EXISTS docs_exact ON docs(exact);
            CREATE INDEX IF NOT EXISTS docs_superseded ON docs(superseded_night);
            CREATE TABLE IF NOT EXISTS bands (
                band INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (band, doc)) WITHOUT ROWID;
            """
        )
        fingerprint = f"{settings_fingerprint(config)}-schema{self.SCHEMA}"
        row = self.db.execute("SELECT value FROM meta WHERE name = 'settings'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('settings', ?)", (fingerprint,))
        elif row[0] != fingerprint:
            raise HistoryMismatch(
                f"{path} was built with dedup settings {row[0]}, not {fingerprint}: "
                "move it away (or restore the settings) before running"
            )

    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        if not docs:
            return {}
        # Which history articles share a band with which of tonight's: index lookups
        # for tonight's band fingerprints only (never a scan of the history).
        wanted: dict[int, list[int]] = defaultdict(list)  # band fingerprint -> tonight's docs
        shingled = [i for i, d in enumerate(docs) if len(d.shingles)]
        if shingled:
            bands = band_fingerprints(np.stack([docs[i].signature for i in shingled]), self.config)
            for i, row in zip(shingled, bands.tolist()):
                for band in row:
                    wanted[band].append(i)
        pairs: set[tuple[int, int]] = set()  # (tonight's doc, history doc number)
        for chunk in _chunks(sorted(wanted), SQLITE_IN_LIST):
            marks = ",".join("?" * len(chunk))
            for band, number in self.db.execute(f"SELECT band, doc FROM bands WHERE band IN ({marks})", chunk):
                pairs.update((i, number) for i in wanted[band])
        by_exact: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(docs):
            by_exact[d.exact].append(i)
        exact_hits: set[tuple[int, str]] = set()
        for chunk in _chunks(sorted(by_exact), SQLITE_IN_LIST):
            marks = ",".join("?" * len(chunk))
            for exact, hkey in self.db.execute(f"SELECT exact, hkey FROM docs WHERE exact IN ({marks})", chunk):
                exact_hits.update((i, hkey) for i in by_exact[exact])
        numbers = sorted({number for _, number in pairs})
        loaded: dict = {}
        for chunk in _chunks(numbers, SQLITE_IN_LIST):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT doc, {_DOC_COLUMNS}, superseded_night FROM docs WHERE doc IN ({marks})"
            for number, *row in self.db.execute(query, chunk):
                loaded[number] = (_doc_from_row(row[:-1]), row[-1])
        for chunk in _chunks(sorted({hkey for _, hkey in exact_hits}), SQLITE_IN_LIST):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {_DOC_COLUMNS}, superseded_night FROM docs WHERE hkey IN ({marks})"
            for row in self.db.execute(query, chunk):
                loaded[row[0]] = (_doc_from_row(row[:-1]), row[-1])
        matches = [(i, loaded[number]) for i, number in pairs] + [(i, loaded[hkey]) for i, hkey in exact_hits]
        found: dict[str, dict[str, Doc]] = defaultdict(dict)
        for i, (doc, superseded_night) in matches:
            if in_window(doc.night, superseded_night, night, since):
                found[docs[i].key][doc.key] = doc
        return {key: [found[key][k] for k in sorted(found[key])] for key in sorted(found)}

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[Superseded]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE docs SET superseded_by = NULL, superseded_night = NULL WHERE superseded_night = ?",
                (night,),
            )
            old = db.execute("SELECT doc, signature FROM docs WHERE night = ?", (night,)).fetchall()
            if old:
                signatures = np.stack([np.frombuffer(sig, dtype=np.uint32) for _, sig in old])
                bands = band_fingerprints(signatures, self.config)
                db.executemany(
                    "DELETE FROM bands WHERE band = ? AND doc = ?",
                    ((int(band), doc) for (doc, _), row in zip(old, bands) for band in row),
                )
                db.execute("DELETE FROM docs WHERE night = ?", (night,))
            first = (db.execute("SELECT COALESCE(MAX(doc), 0) FROM docs").fetchone()[0]) + 1
            numbers = {d.key: first + i for i, d in enumerate(kept)}
            db.executemany(
                f"INSERT INTO docs (doc, {_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((numbers[d.key], *_row_from_doc(d)) for d in kept),
            )
            shingled = [d for d in kept if len(d.shingles)]
            if shingled:
                bands = band_fingerprints(np.stack([d.signature for d in shingled]), self.config)
                rows = np.column_stack((bands.ravel(), np.repeat([numbers[d.key] for d in shingled], self.config.bands)))
                rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
                db.executemany("INSERT INTO bands VALUES (?, ?)", rows.tolist())
            db.executemany(
                "UPDATE docs SET superseded_by = ?, superseded_night = ? WHERE hkey = ?",
                ((entry.by, night, entry.key) for entry in superseded),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def export(self) -> Iterator[tuple[str, list[Doc], list[tuple[str, str, str]]]]:
        """Each night: its kept articles, and the earlier articles it superseded as
        (night, key, superseding key)."""
        nights = [row[0] for row in self.db.execute("SELECT DISTINCT night FROM docs ORDER BY night")]
        nights += [row[0] for row in self.db.execute(
            "SELECT DISTINCT superseded_night FROM docs WHERE superseded_night IS NOT NULL"
        ) if row[0] not in nights]
        for night in sorted(nights):
            kept = [_doc_from_row(row) for row in self.db.execute(
                f"SELECT {_DOC_COLUMNS} FROM docs WHERE night = ? ORDER BY doc", (night,)
            )]
            superseded = [tuple(row) for row in self.db.execute(
                "SELECT night, hkey, superseded_by FROM docs WHERE superseded_night = ? ORDER BY hkey", (night,)
            )]
            yield night, kept, superseded

    def close(self) -> None:
        self.db.close()


def _row_from_doc(doc: Doc) -> tuple:
    return (
        doc.key, doc.night, doc.id, doc.rank, doc.n_words, doc.exact, doc.title, doc.published,
        doc.shingles.astype(np.uint64).tobytes(), doc.signature.astype(np.uint32).tobytes(),
    )


def _doc_from_row(row: Sequence) -> Doc:
    hkey, night, doc_id, rank, n_words, exact, title, published, shingles, signature = row
    return Doc(
        key=hkey, id=doc_id, night=night, rank=rank, n_words=n_words, exact=exact,
        shingles=np.frombuffer(shingles, dtype=np.uint64),
        signature=np.frombuffer(signature, dtype=np.uint32),
        title=title, published=published,
    )
