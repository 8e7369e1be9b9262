"""The kept articles of earlier nights, indexed for cross-night dedup.

Two backends give identical results:

- embedded (default): a SQLite file under ``state_dir``; no server. Its LSH index is a
  table of (band, band hash) -> article, the band hashes being exactly the keys
  datasketch's ``MinHashLSH`` uses;
- Redis (``[pipeline] index_url = redis://host:port/db``): datasketch's own ``MinHashLSH``
  with its Redis storage, so several machines share one index; article data sits
  beside it in Redis hashes.

Both return, for each of tonight's articles, the earlier nights' kept articles that
share an LSH band or the exact-duplicate key, restricted to nights before tonight
(within the window) and not superseded. So a rerun of a night never matches an
article with itself, and the cost of a night grows with the night, not the history.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from pipeline.dedup import DedupConfig, Doc, Match, band_keys

SQLITE_NAME = "history.sqlite"


def settings_fingerprint(config: DedupConfig) -> str:
    """What makes two indexes compatible: same shingles, permutations and banding."""
    return (
        f"shingles{config.shingle_size}-perm{config.num_perm}-seed{config.seed}-"
        f"{config.scheme}-b{config.bands}r{config.rows}"
    )


band_hashes = band_keys  # the history's index keys are dedup's band keys


class History(Protocol):
    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        """Earlier nights' kept articles that may match each doc (by doc key)."""

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[tuple[Doc, Match]]) -> None:
        """Make tonight's kept articles the night's entries, replacing any earlier run's."""

    def close(self) -> None: ...


def open_history(state_dir: Path | str, index_url: str, config: DedupConfig) -> History:
    """The history named by the settings: Redis when ``index_url`` is set, else SQLite."""
    if index_url:
        from pipeline.redis_history import RedisHistory

        return RedisHistory(index_url, config)
    return SqliteHistory(Path(state_dir) / SQLITE_NAME, config)


class HistoryMismatch(RuntimeError):
    """The history was built with other dedup settings."""


_DOC_COLUMNS = "hkey, night, id, rank, n_words, exact, title, published, shingles, signature"


def _filter_sql(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return (
        f"{p}night < :night AND (:since IS NULL OR {p}night >= :since) "
        f"AND ({p}superseded_night IS NULL OR {p}superseded_night >= :night)"
    )


class SqliteHistory:
    """History in one SQLite file; see the module docstring."""

    def __init__(self, path: Path, config: DedupConfig) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.db = sqlite3.connect(path, timeout=600, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS docs (
                hkey TEXT PRIMARY KEY, night TEXT NOT NULL, id TEXT NOT NULL, rank INTEGER NOT NULL,
                n_words INTEGER NOT NULL, exact TEXT NOT NULL, title TEXT, published TEXT,
                shingles BLOB NOT NULL, signature BLOB NOT NULL,
                superseded_by TEXT, superseded_night TEXT);
            CREATE INDEX IF NOT EXISTS docs_night ON docs(night);
            CREATE INDEX IF NOT EXISTS docs_exact ON docs(exact);
            CREATE INDEX IF NOT EXISTS docs_superseded ON docs(superseded_night);
            CREATE TABLE IF NOT EXISTS bands (
                band INTEGER NOT NULL, hash BLOB NOT NULL, hkey TEXT NOT NULL,
                PRIMARY KEY (band, hash, hkey)) WITHOUT ROWID;
            """
        )
        fingerprint = settings_fingerprint(config)
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
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS q_band (doc INTEGER, band INTEGER, hash BLOB)")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS q_exact (doc INTEGER, exact TEXT)")
        db.execute("DELETE FROM q_band")
        db.execute("DELETE FROM q_exact")
        shingled = [i for i, d in enumerate(docs) if len(d.shingles)]
        if shingled:
            hashes = band_hashes(np.stack([docs[i].signature for i in shingled]), self.config)
            db.executemany(
                "INSERT INTO q_band VALUES (?, ?, ?)",
                ((i, b, h) for i, row in zip(shingled, hashes) for b, h in enumerate(row)),
            )
        db.executemany("INSERT INTO q_exact VALUES (?, ?)", ((i, d.exact) for i, d in enumerate(docs)))
        params = {"night": night, "since": since}
        # CROSS JOIN fixes the loop order: tonight's band keys outside, index lookups
        # inside, so the cost follows tonight's size and never scans the history.
        rows = db.execute(
            f"""
            SELECT q.doc, d.hkey FROM q_band q CROSS JOIN bands b ON b.band = q.band AND b.hash = q.hash
                CROSS JOIN docs d ON d.hkey = b.hkey WHERE {_filter_sql('d')}
            UNION
            SELECT q.doc, d.hkey FROM q_exact q CROSS JOIN docs d ON d.exact = q.exact WHERE {_filter_sql('d')}
            """,
            params,
        ).fetchall()
        wanted = sorted({hkey for _, hkey in rows})
        loaded = dict(self._load(wanted))
        found: dict[str, list[Doc]] = defaultdict(list)
        for doc_index, hkey in sorted(rows):
            found[docs[doc_index].key].append(loaded[hkey])
        return dict(found)

    def _load(self, hkeys: Sequence[str]):
        for start in range(0, len(hkeys), 500):
            chunk = hkeys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT {_DOC_COLUMNS} FROM docs WHERE hkey IN ({marks})", chunk):
                yield row[0], _doc_from_row(row)

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[tuple[Doc, Match]]) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE docs SET superseded_by = NULL, superseded_night = NULL WHERE superseded_night = ?",
                (night,),
            )
            old = [_doc_from_row(r) for r in db.execute(f"SELECT {_DOC_COLUMNS} FROM docs WHERE night = ?", (night,))]
            if old:
                hashes = band_hashes(np.stack([d.signature for d in old]), self.config)
                db.executemany(
                    "DELETE FROM bands WHERE band = ? AND hash = ? AND hkey = ?",
                    ((b, h, d.key) for d, row in zip(old, hashes) for b, h in enumerate(row)),
                )
                db.execute("DELETE FROM docs WHERE night = ?", (night,))
            db.executemany(
                f"INSERT INTO docs ({_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_row_from_doc(d) for d in kept),
            )
            shingled = [d for d in kept if len(d.shingles)]
            if shingled:
                hashes = band_hashes(np.stack([d.signature for d in shingled]), self.config)
                db.executemany(
                    "INSERT INTO bands VALUES (?, ?, ?)",
                    ((b, h, d.key) for d, row in zip(shingled, hashes) for b, h in enumerate(row)),
                )
            db.executemany(
                "UPDATE docs SET superseded_by = ?, superseded_night = ? WHERE hkey = ?",
                ((match.dup_of.key, night, old_doc.key) for old_doc, match in superseded),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

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


def count_docs(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
