"""The kept articles of earlier nights, for cross-night dedup: a history that knows itself.

    state_dir/history/
      MANIFEST.json   the nights committed, in order: per night its article count, each
                      file's size and checksum, what the night compared with (its window's
                      first night, how many nights it read and their digests hashed, and
                      the gaps: nights of its window that had no raw folder), and the
                      checksum of its site-line counts
      SETTINGS        the dedup settings the history was built with
      .lock           readers share it, a commit or a rebuild takes it alone
      .checked.json   which files were last checksummed, as they were then (size, times,
                      inode): unchanged files are not read again each night
      2026-11-26/     one night's folder (see ``filehistory``)

A commit writes the night's folder under a temporary name, puts it in the Redis index
when there is one (one MULTI/EXEC transaction), renames the folder into place, and
writes the manifest last, atomically. Readers go by the manifest: a night is in the
history when the manifest lists it, and only then. So a kill at any point leaves the
night either committed whole or not at all (in its previous version), and the
interrupted commit is simply done again.

Before a night's dedup reads the history, :meth:`History.window_problems` checks that
it is complete and intact for the night's window: every earlier night the window
expects is listed, every listed night's files have the sizes and checksums the
manifest records, and the Redis index holds exactly the manifest's nights (a
night-set and count check). Anything else is a problem naming the night or the file;
the night stops instead of giving a silently wrong answer. ``python -m pipeline
history verify`` and ``history rebuild`` check and repair the whole history.

Two indexes give identical results: the night folders' own sorted arrays (embedded,
the default), or Redis (``index_url``), shared by every machine that runs nights.
Either returns, for each of tonight's articles, the earlier nights' kept articles that
share an LSH band or the exact-duplicate key, within the window and not superseded
by a night before tonight; their data is read from the night folders.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import shutil
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import orjson
import xxhash

from pipeline.dedup.fingerprint import DedupConfig, Doc, band_fingerprints
from pipeline.dedup.history.base import HistoryMismatch, Superseded, in_window, settings_fingerprint
from pipeline.dedup.history.files import (
    COMMIT_NAME,
    FILES,
    FileSum,
    HistoryDamaged,
    NightFolder,
    checksum,
    files_digest,
    write_night,
)
from pipeline.io.jsonl import OutputError, run_alive, run_tag, write_json

logger = logging.getLogger("luigi-interface")

FOLDER_NAME = "history"
MANIFEST_NAME = "MANIFEST.json"
SETTINGS_NAME = "SETTINGS"
CHECKED_NAME = ".checked.json"
LOCK_NAME = ".lock"
MANIFEST_FORMAT = 1
STORE = "files-1"
# The store before the night folders; converted when found (see sqlitehistory).
SQLITE_NAME = "history.sqlite"
MIGRATED_SUFFIX = ".migrated"
REBUILD_HINT = "python -m pipeline history rebuild"

__all__ = ["History", "HistoryDamaged", "HistoryMismatch", "NightEntry", "Superseded", "open_history"]


@dataclass
class NightEntry:
    """What the manifest says of one committed night."""

    articles: int
    superseded: int
    digest: str  # files_digest of the folder's files
    files: dict[str, FileSum]
    site_lines: FileSum | None = None  # state_dir/site_lines/NIGHT.json as committed
    compared_with: dict[str, Any] | None = None  # its dedup's window, see window_digest
    gaps: list[str] | None = None  # nights of its window that had no raw folder

    def to_json(self) -> dict[str, Any]:
        return {
            "articles": self.articles, "superseded": self.superseded, "digest": self.digest,
            "files": {name: list(s) for name, s in sorted(self.files.items())},
            "site_lines": list(self.site_lines) if self.site_lines else None,
            "compared_with": self.compared_with, "gaps": self.gaps,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "NightEntry":
        return cls(
            articles=int(data["articles"]), superseded=int(data["superseded"]), digest=str(data["digest"]),
            files={name: FileSum(int(s[0]), str(s[1])) for name, s in data["files"].items()},
            site_lines=FileSum(int(data["site_lines"][0]), str(data["site_lines"][1])) if data.get("site_lines")
            else None,
            compared_with=data.get("compared_with"), gaps=data.get("gaps"),
        )


@dataclass
class Problem:
    """Something wrong with the history; ``night`` is None when it concerns the whole of it."""

    night: str | None
    message: str
    warning: bool = False  # stale, not damaged: the night's results may be out of date

    def __str__(self) -> str:
        return self.message


@dataclass
class CommitInfo:
    """What a night's dedup read, recorded with its commit (see NightEntry)."""

    compared_with: dict[str, Any] | None = None
    gaps: list[str] | None = None
    site_lines: Path | None = None


class History:
    """The history in ``state_dir/history`` (see the module docstring); ``index_url``:
    the Redis index, or empty for the embedded one."""

    def __init__(self, state_dir: Path | str, config: DedupConfig, index_url: str = "") -> None:
        self.folder = Path(state_dir) / FOLDER_NAME
        self.config = config
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.folder / LOCK_NAME, "a+b")
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {self.folder}: {error.strerror}") from error
        self.index = None
        if index_url:
            from pipeline.dedup.history.redisindex import RedisIndex

            self.index = RedisIndex(index_url, config)
        with self._locked(fcntl.LOCK_EX):
            self._check_settings()
            self._recover()
            legacy = self.folder.parent / SQLITE_NAME
            if legacy.exists():
                self._migrate(legacy)
            if not (self.folder / MANIFEST_NAME).exists() and self._folders():
                self._adopt()

    # --- reading --------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def nights(self) -> dict[str, NightEntry]:
        """The committed nights, by night (the manifest as it is now)."""
        path = self.manifest_path
        if not path.exists():
            return {}
        try:
            data = orjson.loads(path.read_bytes())
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
            return {night: NightEntry.from_json(entry) for night, entry in sorted(data["nights"].items())}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            raise HistoryDamaged(f"{path}: not a readable manifest ({error}); {REBUILD_HINT}") from error

    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        """Earlier nights' kept articles that may match each of ``docs`` (by doc key)."""
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
            committed = self.nights()
            window = [m for m in committed if in_window(m, None, night, since)]
            superseded = {
                (old_night, key)
                for m in committed if m < night
                for old_night, key, _by in NightFolder(self.folder / m).superseded()
            }
            if self.index is None:
                for m in window:
                    folder = NightFolder(self.folder / m)
                    for values, owners, name in ((prints, band_owner, "bands"), (exact, exact_order, "exact")):
                        for position, article in folder.lookup(name, values):
                            found[int(owners[position])].add((m, article))
            else:
                counts = {m: committed[m].articles for m in window}
                for owners, hits in ((band_owner, self.index.lookup_bands(prints)),
                                     (exact_order, self.index.lookup_exact(exact))):
                    for position, m, article in hits:
                        if article < counts.get(m, 0):
                            found[int(owners[position])].add((m, article))
            wanted: dict[str, set[int]] = defaultdict(set)
            for hits in found.values():
                for m, article in hits:
                    wanted[m].add(article)
            loaded = {
                (m, article): doc
                for m, articles in sorted(wanted.items())
                for article, doc in zip(sorted(articles), NightFolder(self.folder / m).read_docs(sorted(articles)))
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

    # --- committing -----------------------------------------------------------------------------

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[Superseded],
               info: CommitInfo | None = None) -> NightEntry:
        """Make tonight's kept articles the night's entries, replacing any earlier run's;
        ``superseded``: the earlier nights' articles tonight's replaced."""
        info = info or CommitInfo()
        with self._locked(fcntl.LOCK_EX):
            return self._commit(night, kept, [tuple(entry) for entry in superseded], info)

    def _commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[tuple[str, str, str]],
                info: CommitInfo, nights: dict[str, NightEntry] | None = None) -> NightEntry:
        tmp = self.folder / f".{night}.tmp-{run_tag()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            sums = write_night(tmp, night, kept, superseded, self.config)
            entry = NightEntry(
                articles=len(kept), superseded=len(superseded), digest=files_digest(sums), files=sums,
                site_lines=checksum(info.site_lines) if info.site_lines and info.site_lines.exists() else None,
                compared_with=info.compared_with, gaps=info.gaps,
            )
            if self.index is not None:
                self.index.replace_night(night, entry.digest, NightFolder(tmp))
            final = self.folder / night
            old = self.folder / f".{night}.old-{run_tag()}"
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            _fsync_dir(self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # a failed commit leaves nothing behind
            raise
        committed = dict(self.nights() if nights is None else nights)
        committed[night] = entry
        self._write_manifest(committed)
        shutil.rmtree(old, ignore_errors=True)
        return entry

    def _write_manifest(self, nights: dict[str, NightEntry]) -> None:
        write_json(self.manifest_path, {
            "format": MANIFEST_FORMAT,
            "settings": self._fingerprint(),
            "nights": {night: nights[night].to_json() for night in sorted(nights)},
        })

    # --- checking -------------------------------------------------------------------------------

    def window_problems(self, night: str, window: tuple[str | None, set[str]] | None = None,
                        site_nights: Sequence[str] = (), site_lines_dir: Path | None = None) -> list[Problem]:
        """What is wrong with the history tonight reads. ``window``: its first night (None:
        every earlier night) and the earlier nights that must be listed (they ran); the
        files of every listed night in it are checked. ``site_nights``: nights whose
        site-line counts (under ``site_lines_dir``) tonight reads. The Redis index always."""
        with self._locked(fcntl.LOCK_SH):
            try:
                committed = self.nights()
            except HistoryDamaged as error:
                return [Problem(None, str(error))]
            checker = _Checker(self.folder)
            problems = []
            if window is not None:
                since, expected = window
                problems.extend(
                    Problem(d, f"night {d} is not in the history ({self.manifest_path} does not list it), but "
                               f"night {night} compares with it; {REBUILD_HINT}")
                    for d in sorted(expected - set(committed))
                )
                for m in (m for m in committed if in_window(m, None, night, since)):
                    problems.extend(self._night_problems(m, committed[m], checker, full=False))
            if site_lines_dir is not None:
                for m in site_nights:
                    problems.extend(_site_line_problems(m, committed.get(m), site_lines_dir, checker))
            problems.extend(self._index_problems(committed))
            checker.save()
        return problems

    def problems(self, full: bool = True, site_lines_dir: Path | None = None) -> list[Problem]:
        """Everything wrong with the history (``full``: every file read and checksummed,
        not trusted for being unchanged since its last check), stale nights as warnings."""
        with self._locked(fcntl.LOCK_SH):
            try:
                committed = self.nights()
            except HistoryDamaged as error:
                return [Problem(None, str(error))]
            checker = _Checker(self.folder, trust_unchanged=not full)
            problems = []
            for night, entry in committed.items():
                problems.extend(self._night_problems(night, entry, checker, full=full))
                if site_lines_dir is not None:
                    problems.extend(_site_line_problems(night, entry, site_lines_dir, checker))
            for name in sorted(set(self._folders()) - set(committed)):
                problems.append(Problem(name, f"{self.folder / name}: a night folder the manifest does not list "
                                              "(a commit cut short, or copied in by hand)", warning=True))
            problems.extend(self._index_problems(committed))
            problems.extend(stale_nights(committed))
            checker.save()
        return problems

    def _night_problems(self, night: str, entry: NightEntry, checker: "_Checker", full: bool) -> list[Problem]:
        folder = self.folder / night
        if not folder.is_dir():
            return [Problem(night, f"{folder}: missing, but {self.manifest_path} lists night {night}; {REBUILD_HINT}")]
        problems = []
        for name, expected in sorted(entry.files.items()):
            found = checker.sum(folder / name)
            if found is None:
                problems.append(Problem(night, f"{folder / name}: missing; {REBUILD_HINT}"))
            elif found != expected:
                what = (f"{found.bytes} bytes, the manifest says {expected.bytes}" if found.bytes != expected.bytes
                        else "its checksum differs from the manifest's")
                problems.append(Problem(night, f"{folder / name}: damaged ({what}); {REBUILD_HINT}"))
        if not problems:
            try:
                record = NightFolder(folder).commit_record()
            except HistoryDamaged as error:
                return [Problem(night, f"{error}; {REBUILD_HINT}")]
            if record.get("digest") != entry.digest:
                problems.append(Problem(night, f"{folder / COMMIT_NAME}: another commit than the manifest's; "
                                               f"{REBUILD_HINT}"))
        if not problems and full:
            problems.extend(Problem(night, f"{message}; {REBUILD_HINT}") for message in _structure_problems(folder))
        return problems

    def _index_problems(self, committed: dict[str, NightEntry]) -> list[Problem]:
        if self.index is None:
            return []
        indexed = self.index.nights()
        problems = []
        for night in sorted(set(committed) | set(indexed)):
            want = (committed[night].digest, committed[night].articles) if night in committed else None
            have = indexed.get(night)
            if want == have:
                continue
            if have is None:
                what = "lacks it"
            elif want is None:
                what = "holds it, the manifest does not"
            elif have[1] != want[1]:
                what = f"holds {have[1]} of its articles, the manifest {want[1]}"
            else:
                what = "holds another commit of it"
            problems.append(Problem(night, f"the Redis index {self.index.url} {what} (night {night}, "
                                           f"{self.manifest_path}); {REBUILD_HINT}"))
        return problems

    # --- repairing ------------------------------------------------------------------------------

    def rebuild(self, sources: "RebuildSources") -> tuple[list[str], list[Problem]]:
        """Make the history whole again: every night listed in the manifest, or finished in
        ``out_dir``, gets an intact folder (kept when it matches the manifest, else made
        again from the night's stage files, else from its ``articles.jsonl``), a new
        manifest is written, and the Redis index is rebuilt from the folders. Returns what
        was done, a line a night, and what could not be repaired."""
        done: list[str] = []
        problems: list[Problem] = []
        with self._locked(fcntl.LOCK_EX):
            try:
                old = self.nights()
            except HistoryDamaged as error:
                done.append(f"manifest unreadable ({error}): made again from the night folders and out_dir")
                old = {}
            checker = _Checker(self.folder, trust_unchanged=False)
            folders = set(self._folders())
            nights = sorted(set(old) | set(sources.finished_nights()) | (folders if not old else set()))
            rebuilt: dict[str, NightEntry] = {}
            for night in nights:
                entry = old.get(night)
                intact = night in folders and (
                    not self._night_problems(night, entry, checker, full=True) if entry is not None
                    else not _structure_problems(self.folder / night)
                )
                if intact:
                    if entry is None:
                        entry = self._entry_of_folder(night, sources.commit_info(night))
                        done.append(f"night {night}: folder intact, listed again")
                    rebuilt[night] = entry
                    continue
                made = sources.kept_articles(night, self.config)
                if made is None:
                    problems.append(Problem(night, f"night {night}: its folder is damaged or missing and "
                                                   f"{sources.out_dir / night} has neither stage files nor "
                                                   "articles.jsonl to rebuild it from"))
                    continue
                kept, superseded, origin = made
                info = sources.commit_info(night)
                if entry is not None:
                    info.compared_with, info.gaps = entry.compared_with, entry.gaps
                rebuilt[night] = self._commit(night, kept, superseded, info, nights=rebuilt)
                done.append(f"night {night}: folder made again from {origin} ({len(kept)} articles)")
            self._write_manifest(rebuilt)
            if self.index is not None:
                self.index.clear()
                for night, entry in rebuilt.items():
                    self.index.replace_night(night, entry.digest, NightFolder(self.folder / night))
                done.append(f"Redis index {self.index.url}: rebuilt with {len(rebuilt)} nights")
            checker.save()
        return done, problems

    def _entry_of_folder(self, night: str, info: CommitInfo) -> NightEntry:
        folder = NightFolder(self.folder / night)
        sums = {name: checksum(folder.path / name) for name in FILES if (folder.path / name).exists()}
        return NightEntry(
            articles=folder.articles(), superseded=len(folder.superseded()), digest=files_digest(sums), files=sums,
            site_lines=checksum(info.site_lines) if info.site_lines and info.site_lines.exists() else None,
            compared_with=info.compared_with, gaps=info.gaps,
        )

    # --- storage --------------------------------------------------------------------------------

    def close(self) -> None:
        self._lock.close()
        if self.index is not None:
            self.index.close()

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        fcntl.flock(self._lock, mode)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _fingerprint(self) -> str:
        return f"{settings_fingerprint(self.config)}-{STORE}"

    def _check_settings(self) -> None:
        path = self.folder / SETTINGS_NAME
        if not path.exists():
            _write_text(path, self._fingerprint() + "\n")
            return
        found = path.read_text().strip()
        if found != self._fingerprint():
            raise HistoryMismatch(
                f"{self.folder} was built with dedup settings {found}, not {self._fingerprint()}: "
                "move it away (or restore the settings) before running"
            )

    def _folders(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _recover(self) -> None:
        """Undo commits that were cut short (called under the exclusive lock): their
        temporary folders go; a night whose folder was moved aside and not replaced gets
        it back. Another machine's commit in progress is left alone."""
        for path in sorted(self.folder.glob(".*.tmp-*")):
            if not run_alive(path.name.split(".tmp-", 1)[1]):
                shutil.rmtree(path, ignore_errors=True)
        for path in sorted(self.folder.glob(".*.old-*")):
            night, tag = path.name[1:].split(".old-", 1)
            if run_alive(tag):
                continue
            if (self.folder / night).exists():
                shutil.rmtree(path, ignore_errors=True)
            else:  # killed between the two renames: the previous version is the night's
                path.rename(self.folder / night)

    def _adopt(self) -> None:
        """A history written before the manifest existed: its folders are listed as they
        are (checksums taken now); what they compared with is not known."""
        nights = {night: self._entry_of_folder(night, CommitInfo()) for night in self._folders()}
        self._write_manifest(nights)
        logger.info("history %s: manifest written for the %d night folders found", self.folder, len(nights))

    def _migrate(self, path: Path) -> None:
        """Rewrite a SQLite history (schema 2) as night folders, then set the file aside."""
        from pipeline.dedup.history.legacy import SqliteHistory

        legacy = SqliteHistory(path, self.config)  # refuses other settings, like this store
        try:
            nights = self.nights()
            for night, kept, superseded in legacy.export():
                nights[night] = self._commit(night, kept, superseded, CommitInfo(), nights=nights)
        finally:
            legacy.close()
        path.rename(path.with_name(path.name + MIGRATED_SUFFIX))


class RebuildSources:
    """Where ``history rebuild`` finds a night's kept articles again: its stage files, or
    the ``articles.jsonl`` (every kept article) and ``duplicates.jsonl`` of ``out_dir``.
    Implemented by the task layer, which knows the stage files (see ``operations``)."""

    out_dir: Path

    def finished_nights(self) -> list[str]:
        raise NotImplementedError

    def kept_articles(self, night: str, config: DedupConfig) -> tuple[list[Doc], list[tuple[str, str, str]], str] | None:
        raise NotImplementedError

    def commit_info(self, night: str) -> CommitInfo:
        raise NotImplementedError


def window_digest(committed: dict[str, NightEntry], night: str, since: str | None) -> dict[str, Any]:
    """What a night's dedup compared with: the first night of its window (None: all
    earlier nights), how many committed nights it read, and their digests hashed
    together. Recomputed later, a different digest means the window changed since."""
    window = [m for m in committed if in_window(m, None, night, since)]
    listing = "".join(f"{m}\t{committed[m].digest}\n" for m in window)
    return {"since": since, "nights": len(window), "digest": xxhash.xxh3_64_hexdigest(listing.encode())}


def stale_nights(committed: dict[str, NightEntry]) -> list[Problem]:
    """Nights whose window has changed since their dedup ran (an earlier night committed
    again, or committed late): their duplicates may be out of date."""
    problems = []
    for night, entry in committed.items():
        if not entry.compared_with:
            continue
        now = window_digest(committed, night, entry.compared_with.get("since"))
        if now["digest"] == entry.compared_with.get("digest"):
            continue
        late = [gap for gap in entry.gaps or () if gap in committed]
        why = (f"{', '.join(late)} had no raw data then and {'is' if len(late) == 1 else 'are'} committed now"
               if late else "an earlier night it compared with was committed again since")
        problems.append(Problem(night, f"night {night} is stale: {why} (rerun it and the nights after it, in "
                                       f"order: python -m pipeline rerun {night} --and-later)", warning=True))
    return problems


def later_dependents(committed: dict[str, NightEntry], night: str) -> list[str]:
    """The committed nights after ``night`` whose dedup window covers it: rerunning
    ``night`` leaves their duplicates out of date."""
    return [
        later for later, entry in committed.items()
        if later > night and (entry.compared_with is None or in_window(night, None, later, entry.compared_with.get("since")))
    ]


def gaps_between(first: str | None, night: str, present: set[str]) -> list[str]:
    """The days from ``first`` up to (not including) ``night`` that are not in ``present``.

    >>> gaps_between("2026-11-24", "2026-11-28", {"2026-11-24", "2026-11-26"})
    ['2026-11-25', '2026-11-27']
    """
    if first is None or first >= night:
        return []
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(night)
    gaps = []
    while day < end:
        if day.isoformat() not in present:
            gaps.append(day.isoformat())
        day += dt.timedelta(days=1)
    return gaps


def open_history(state_dir: Path | str, index_url: str, config: DedupConfig) -> History:
    """The history named by the settings (which takes over a SQLite history found there)."""
    return History(state_dir, config, index_url)


# --- checksums, trusted while a file is unchanged -------------------------------------------------


@dataclass
class _Checker:
    """File checksums for one check of the history. With ``trust_unchanged``, a file whose
    size, times and inode are those it had when last checksummed (``.checked.json``) is not
    read again: a night's check then costs the files that changed, not the history."""

    folder: Path
    trust_unchanged: bool = True
    cache: dict[str, list] = field(default_factory=dict)
    changed: bool = False

    def __post_init__(self) -> None:
        try:
            self.cache = orjson.loads((self.folder / CHECKED_NAME).read_bytes())
        except (OSError, ValueError):
            self.cache = {}

    def sum(self, path: Path) -> FileSum | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = path.relative_to(self.folder).as_posix() if path.is_relative_to(self.folder) else str(path)
        seen = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        cached = self.cache.get(key)
        if self.trust_unchanged and cached and cached[:4] == seen:
            return FileSum(stat.st_size, cached[4])
        try:
            found = checksum(path)
        except OSError:
            return None
        self.cache[key] = [*seen, found.xxh3]
        self.changed = True
        return found

    def save(self) -> None:
        if self.changed:
            try:
                _write_text(self.folder / CHECKED_NAME, orjson.dumps(self.cache, option=orjson.OPT_SORT_KEYS).decode())
            except OSError:
                pass  # only a cache: the next check reads the files again


def _structure_problems(folder: Path) -> list[str]:
    """What is inconsistent within a night folder itself (for folders the manifest cannot
    vouch for): files readable, array lengths agreeing with the article count."""
    night = NightFolder(folder)
    try:
        articles = night.articles()
        offsets = night.array("shingles.offsets.npy")
        shingles = night.array("shingles.npy", mmap_mode="r")
        signatures = night.array("signatures.npy", mmap_mode="r")
        bands, owners = night.array("bands.npy"), night.array("bands.docs.npy")
        exact, exact_owners = night.array("exact.npy"), night.array("exact.docs.npy")
        night.superseded()
        size = (folder / "docs.jsonl").stat().st_size
        doc_offsets = night.array("docs.offsets.npy")
    except (HistoryDamaged, OSError) as error:
        return [str(error)]
    problems = []
    if len(offsets) != articles + 1 or (len(offsets) and offsets[-1] != len(shingles)):
        problems.append(f"{folder / 'shingles.offsets.npy'}: does not match shingles.npy")
    if signatures.shape[0] != articles:
        problems.append(f"{folder / 'signatures.npy'}: {signatures.shape[0]} rows for {articles} articles")
    if len(doc_offsets) and doc_offsets[-1] != size:
        problems.append(f"{folder / 'docs.jsonl'}: {size} bytes, its offsets say {doc_offsets[-1]}")
    if len(bands) != len(owners) or (len(bands) > 1 and np.any(bands[1:] < bands[:-1])):
        problems.append(f"{folder / 'bands.npy'}: not sorted, or not matching bands.docs.npy")
    if len(exact) != articles or len(exact_owners) != articles:
        problems.append(f"{folder / 'exact.npy'}: {len(exact)} keys for {articles} articles")
    return problems


def _site_line_problems(night: str, entry: NightEntry | None, folder: Path, checker: _Checker) -> list[Problem]:
    """The site-line counts of a night: as committed (checksum), and sane (no line on more
    of a site's pages than the site has)."""
    path = folder / f"{night}.json"
    if entry is not None and entry.site_lines is not None:
        found = checker.sum(path)
        if found is None:
            return [Problem(night, f"{path}: missing, but {night}'s commit recorded it; {REBUILD_HINT}")]
        if found != entry.site_lines:
            return [Problem(night, f"{path}: damaged (not the counts night {night} committed); {REBUILD_HINT}")]
    if not path.exists():
        return []
    return [Problem(night, message) for message in site_line_sanity(path)]


def site_line_sanity(path: Path) -> list[str]:
    """What makes a site-line counts file impossible (it would remove good lines)."""
    try:
        data = orjson.loads(path.read_bytes())
        for site, counts in data.items():
            pages = counts["pages"]
            if not isinstance(pages, int) or pages < 0:
                return [f"{path}: site {site}: pages {pages!r} is not a count"]
            for key, count in counts["lines"].items():
                if not isinstance(count, int) or not 0 < count <= pages:
                    return [f"{path}: site {site}: line {key} counted on {count!r} pages of {pages}"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return [f"{path}: not readable site-line counts ({error})"]
    return []


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{run_tag()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(path)
    except OSError as error:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
