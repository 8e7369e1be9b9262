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
      2026-11-26/     one night's folder (see ``files``)

A commit writes the night's folder under a temporary name, records its intent (a
``.NIGHT.commit-RUN`` file holding the new version's digest), puts it in the Redis index
when there is one (one MULTI/EXEC transaction), renames the folder into place, and
writes the manifest last, atomically. Readers go by the manifest: a night is in the
history when the manifest lists it, and only then. A kill between the intent and the
manifest leaves the index or the folder ahead of the manifest; the next opening of the
history (under its lock) finds the dead run's intent and takes the night back to the
manifest's version, folder and index entries, or finishes the clean-up when the
manifest was written. So a kill at any point leaves the night either committed whole
or not at all (in its previous version), and the interrupted commit is simply done again.

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

import fcntl
import os
import shutil
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import orjson

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import band_fingerprints
from pipeline.dedup.history.base import HistoryMismatch, Superseded, in_window, settings_fingerprint
from pipeline.dedup.history.files import (
    FILES,
    HistoryDamaged,
    NightFolder,
    checksum,
    files_digest,
    write_night,
)
from pipeline.dedup.history.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    REBUILD_HINT,
    CommitInfo,
    NightEntry,
)
from pipeline.io.jsonl import OutputError, fsync_dir, run_alive, run_tag, write_json

FOLDER_NAME = "history"
SETTINGS_NAME = "SETTINGS"
CHECKED_NAME = ".checked.json"
LOCK_NAME = ".lock"
STORE = "files-1"
# The file a commit leaves while its night's index entries or folder are ahead of the
# manifest: ``.NIGHT.commit-RUN``, holding the new version's digest.
INTENT = ".commit-"

class History:
    """The history in ``state_dir/history`` (see the module docstring); ``index_url``:
    the Redis index, or empty for the embedded one."""

    def __init__(self, state_dir: Path | str, config: DedupConfig, index_url: str = "",
                 for_rebuild: bool = False) -> None:
        """``for_rebuild``: open a history built with other dedup settings too, to make it
        again with these (``settings_before`` then says which it was built with)."""
        self.folder = Path(state_dir) / FOLDER_NAME
        self.config = config
        self.settings_before: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.folder / LOCK_NAME, "a+b")
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {self.folder}: {error.strerror}") from error
        self.index = None
        if index_url:
            from pipeline.dedup.history.redisindex import RedisIndex

            self.index = RedisIndex(index_url, config)
        with self.locked(fcntl.LOCK_EX):
            self._check_settings(for_rebuild)
            self._recover()

    # --- reading --------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def nights(self) -> dict[str, NightEntry]:
        """The committed nights, by night (the manifest as it is now); a manifest that is
        damaged, or one of whose entries is, raises :class:`HistoryDamaged` naming it."""
        nights, damaged = self.read_manifest()
        if damaged:
            night, why = next(iter(damaged.items()))
            raise HistoryDamaged(f"{self.manifest_path}: night {night}: {why}; {REBUILD_HINT}")
        return nights

    def read_manifest(self) -> tuple[dict[str, NightEntry], dict[str, str]]:
        """The manifest's sound entries, and why each damaged one is not (for a rebuild,
        which makes those again). A manifest that is missing while night folders are there
        is damaged: it is the history's only record of what each night compared with and of
        its site-line counts, so it is never silently written anew."""
        path = self.manifest_path
        if not path.exists():
            folders = self.folders()
            if folders:
                raise HistoryDamaged(f"{path}: missing, but {len(folders)} night folder(s) are there; {REBUILD_HINT}")
            return {}, {}
        try:
            data = orjson.loads(path.read_bytes())
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
            entries = sorted(data["nights"].items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise HistoryDamaged(f"{path}: not a readable manifest ({error}); {REBUILD_HINT}") from error
        nights, damaged = {}, {}
        for night, entry in entries:
            try:
                nights[night] = NightEntry.from_json(entry)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
                damaged[night] = str(error) if isinstance(error, ValueError) else f"not a readable entry ({error})"
        return nights, damaged

    def candidates(self, docs: Sequence[Doc], night: str, since: str | None) -> dict[str, list[Doc]]:
        """Earlier nights' kept articles that may match each of ``docs`` (by doc key)."""
        if not docs:
            return {}
        lengths = np.array([len(d.shingles) for d in docs], dtype=np.int64)
        prints = band_fingerprints(np.stack([d.signature for d in docs]), self.config)
        exact = np.array([d.exact.encode("ascii") for d in docs])
        found = self.candidates_of(prints, lengths, exact, night, since)
        return {docs[i].key: found[i] for i in sorted(found, key=lambda i: docs[i].key)}

    def candidates_of(self, prints: np.ndarray, lengths: np.ndarray, exact: np.ndarray, night: str,
                      since: str | None) -> dict[int, list[Doc]]:
        """Earlier nights' kept articles that may match each of tonight's articles, by
        its number, given their band fingerprints (articles x bands; those of articles
        without shingles are not looked up), shingle counts and exact keys. A band at a
        time, each night's table read once: the lookups hold a band of the night's
        fingerprints at a time. The articles found are read with their shingles stored."""
        if not len(exact):
            return {}
        shingled = np.flatnonzero(lengths)
        exact_order = np.argsort(exact, kind="stable")
        sorted_exact = exact[exact_order]
        found: dict[int, set[tuple[str, int]]] = defaultdict(set)  # tonight's article -> (night, article)

        def bands() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            """Each band's fingerprints, sorted (sorted needles make the binary searches
            several times faster), and the article each is of."""
            for band in range(prints.shape[1]):
                values = prints[shingled, band]
                order = np.argsort(values, kind="stable")
                yield values[order], shingled[order]

        with self.locked(fcntl.LOCK_SH):
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
                    for position, article in folder.lookup("exact", sorted_exact):
                        found[int(exact_order[position])].add((m, article))
                    for values, owners in bands():
                        for position, article in folder.lookup("bands", values):
                            found[int(owners[position])].add((m, article))
            else:
                counts = {m: committed[m].articles for m in window}
                for values, owners in [(sorted_exact, exact_order)]:
                    for position, m, article in self.index.lookup_exact(values):
                        if article < counts.get(m, 0):
                            found[int(owners[position])].add((m, article))
                for values, owners in bands():
                    for position, m, article in self.index.lookup_bands(values):
                        if article < counts.get(m, 0):
                            found[int(owners[position])].add((m, article))
            wanted: dict[str, set[int]] = defaultdict(set)
            for hits in found.values():
                for m, article in hits:
                    wanted[m].add(article)
            loaded = {
                (m, article): doc
                for m, articles in sorted(wanted.items())
                for article, doc in zip(sorted(articles), NightFolder(self.folder / m).read_docs(sorted(articles), stored=True))
            }
        out: dict[int, list[Doc]] = {}
        for i in sorted(found):
            matches = {
                doc.key: doc for doc in (loaded[hit] for hit in found[i])
                if (doc.night, doc.key) not in superseded
            }
            if matches:
                out[i] = [matches[key] for key in sorted(matches)]
        return out

    # --- committing -----------------------------------------------------------------------------

    def commit(self, night: str, kept: Sequence[Doc], superseded: Sequence[Superseded],
               info: CommitInfo | None = None) -> NightEntry:
        """Make tonight's kept articles the night's entries, replacing any earlier run's;
        ``superseded``: the earlier nights' articles tonight's replaced."""
        info = info or CommitInfo()
        with self.locked(fcntl.LOCK_EX):
            return self.commit_unlocked(night, kept, [tuple(entry) for entry in superseded], info)

    def commit_unlocked(self, night: str, kept: Sequence[Doc], superseded: Sequence[tuple[str, str, str]],
                info: CommitInfo, nights: dict[str, NightEntry] | None = None) -> NightEntry:
        committed = dict(self.nights() if nights is None else nights)  # before the folder moves in
        tmp = self.folder / f".{night}.tmp-{run_tag()}"
        intent = self.folder / f".{night}{INTENT}{run_tag()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            sums = write_night(tmp, night, kept, superseded, self.config)
            entry = NightEntry(
                articles=len(kept), superseded=len(superseded), digest=files_digest(sums), files=sums,
                site_lines=checksum(info.site_lines) if info.site_lines and info.site_lines.exists() else None,
                compared_with=info.compared_with, gaps=info.gaps,
            )
            # From here to the manifest, the index and the folder move ahead of it: the
            # intent names the new version, for the way back (``_settle``).
            with open(intent, "w", encoding="ascii") as handle:  # its own name: no temporary file
                handle.write(entry.digest + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            fsync_dir(self.folder)
            if self.index is not None:
                self.index.replace_night(night, entry.digest, NightFolder(tmp))
            final = self.folder / night
            old = self.folder / f".{night}.old-{run_tag()}"
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            fsync_dir(self.folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # a failed commit leaves nothing behind
            if intent.exists():
                try:
                    self._settle(night, intent)
                except Exception:  # noqa: BLE001 - the intent stays, for the next opening once this run ends
                    pass
            raise
        committed[night] = entry
        self.write_manifest(committed)
        shutil.rmtree(old, ignore_errors=True)
        intent.unlink()
        return entry

    def write_manifest(self, nights: dict[str, NightEntry]) -> None:
        write_json(self.manifest_path, {
            "format": MANIFEST_FORMAT,
            "settings": self._fingerprint(),
            "nights": {night: nights[night].to_json() for night in sorted(nights)},
        })

    def entry_of_folder(self, night: str, info: CommitInfo) -> NightEntry:
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
    def locked(self, mode: int) -> Iterator[None]:
        fcntl.flock(self._lock, mode)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _fingerprint(self) -> str:
        return f"{settings_fingerprint(self.config)}-{STORE}"

    def _check_settings(self, for_rebuild: bool) -> None:
        path = self.folder / SETTINGS_NAME
        if not path.exists():
            write_text(path, self._fingerprint() + "\n")
            return
        found = path.read_text().strip()
        if found == self._fingerprint():
            return
        if for_rebuild:
            self.settings_before = found
            return
        raise HistoryMismatch(
            f"{self.folder} was built with dedup settings {found}, not {self._fingerprint()}: make it "
            f"again with these from out_dir ({REBUILD_HINT}), or restore the settings"
        )

    def adopt_settings(self) -> None:
        """Record these settings as the history's (a rebuild made every night with them)."""
        write_text(self.folder / SETTINGS_NAME, self._fingerprint() + "\n")
        self.settings_before = None

    def folders(self) -> list[str]:
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _recover(self) -> None:
        """Undo commits that were cut short (called under the exclusive lock): a night
        whose commit recorded its intent goes back to the manifest's version (``_settle``);
        temporary folders go; a night whose folder was moved aside and not replaced gets
        it back. Another machine's commit in progress is left alone."""
        for path in sorted(self.folder.glob(f".*{INTENT}*")):
            night, tag = path.name[1:].split(INTENT, 1)
            if not run_alive(tag):
                self._settle(night, path)
        for path in sorted(self.folder.glob(".*.tmp-*")):
            if not run_alive(path.name.split(".tmp-", 1)[1]):
                shutil.rmtree(path, ignore_errors=True)
        # A commit that records its intent has its moved-aside folder settled above: these
        # are the commits of an earlier version, which recorded none.
        for path in sorted(self.folder.glob(".*.old-*")):
            night, tag = path.name[1:].split(".old-", 1)
            if run_alive(tag):
                continue
            if (self.folder / night).exists():
                shutil.rmtree(path, ignore_errors=True)
            else:  # killed between the two renames: the previous version is the night's
                path.rename(self.folder / night)

    def _settle(self, night: str, intent: Path) -> None:
        """Finish or undo the commit of ``night`` whose ``intent`` a run left: when the
        manifest lists the intended version, the commit was whole and only its clean-up
        is left; else the night goes back to the manifest's version (the new folder
        removed, the previous one put back) and the Redis index is made to hold that
        version's entries, or none when the manifest does not list the night."""
        intended = intent.read_text().strip()  # cut short while written: matches no version
        try:
            listed = self.read_manifest()[0].get(night)
        except HistoryDamaged:
            listed = None  # the manifest unreadable: nothing says the new version was committed
        folder = self.folder / night
        old = self.folder / f".{night}.old-{intent.name.split(INTENT, 1)[1]}"  # the same run moved it aside
        if listed is None or listed.digest != intended:
            if folder.is_dir() and _commit_digest(folder) == intended:
                shutil.rmtree(folder)
            if old.is_dir() and not folder.exists():
                old.rename(folder)
            if self.index is not None:
                restored = False
                if listed is not None and folder.is_dir():
                    try:
                        self.index.replace_night(night, listed.digest, NightFolder(folder))
                        restored = True
                    except HistoryDamaged:
                        pass  # the manifest's folder is damaged: the checks name it, the index lacks it
                if not restored:
                    self.index.remove_night(night)
        shutil.rmtree(old, ignore_errors=True)
        fsync_dir(self.folder)
        intent.unlink()


def _commit_digest(folder: Path) -> str | None:
    """The digest a night folder's commit record gives, or None when it cannot be read."""
    try:
        return NightFolder(folder).commit_record().get("digest")
    except HistoryDamaged:
        return None


def open_history(state_dir: Path | str, index_url: str, config: DedupConfig, for_rebuild: bool = False) -> History:
    """The history named by the settings."""
    return History(state_dir, config, index_url, for_rebuild)


def write_text(path: Path, text: str) -> None:
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

