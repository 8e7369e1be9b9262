"""Checking the history: complete for a night's window, intact file by file, the Redis
index agreeing with the manifest, the site-line counts as committed and possible.

A night checks the history it reads (:func:`window_problems`) before it is scheduled
and again before its dedup reads it; ``python -m pipeline history verify`` checks all
of it (:func:`all_problems`). Each problem is one line naming the night or the file.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import orjson

from pipeline.dedup.history.base import in_window
from pipeline.dedup.history.files import COMMIT_NAME, FileSum, HistoryDamaged, NightFolder, checksum
from pipeline.dedup.history.manifest import MANIFEST_NAME, REBUILD_HINT, NightEntry, Problem, stale_nights
from pipeline.dedup.history.store import CHECKED_NAME, FOLDER_NAME, History, write_text

# Entries of each kind (band, exact) a night looks for in Redis when it is scheduled, per
# night of its window (about 1.5 ms a night); verify looks for every one. Keys lost by
# eviction are counted by Redis itself (``evicted_since_rebuild``); the sample finds keys
# deleted otherwise, which go by the thousand (a FLUSHDB, a night's keys deleted).
INDEX_SAMPLE = 64


def window_problems(history: History, night: str, window: tuple[str | None, set[str]] | None = None,
                    site_nights: Sequence[str] = (), site_lines_dir: Path | None = None,
                    index_sample: int = INDEX_SAMPLE) -> list[Problem]:
    """What is wrong with the history tonight reads. ``window``: its first night (None:
    every earlier night) and the earlier nights that must be listed (they ran); the
    files of every listed night in it are checked. ``site_nights``: nights whose
    site-line counts (under ``site_lines_dir``) tonight reads. The Redis index always:
    its nights and evictions, and ``index_sample`` entries of each kind of every night
    of the window (0: none: the night samples them when it is scheduled, not again before
    its dedup reads the index)."""
    with history.locked(fcntl.LOCK_SH):
        try:
            committed = history.nights()
        except HistoryDamaged as error:
            return [Problem(None, str(error))]
        checker = Checker(history.folder)
        problems = []
        if window is not None:
            since, expected = window
            problems.extend(
                Problem(d, f"night {d} is not in the history ({history.manifest_path} does not list it), but "
                           f"night {night} compares with it; {REBUILD_HINT}")
                for d in sorted(expected - set(committed))
            )
            for m in (m for m in committed if in_window(m, None, night, since)):
                problems.extend(night_problems(history, m, committed[m], checker, full=False))
        if site_lines_dir is not None:
            for m in site_nights:
                problems.extend(site_line_problems(m, committed.get(m), site_lines_dir, checker))
        read = [m for m in committed if window is not None and index_sample and in_window(m, None, night, window[0])]
        problems.extend(index_problems(history, committed, read, index_sample))
        checker.save()
    return problems



def all_problems(history: History, full: bool = True, site_lines_dir: Path | None = None) -> list[Problem]:
    """Everything wrong with the history (``full``: every file read and checksummed,
    not trusted for being unchanged since its last check), stale nights as warnings."""
    with history.locked(fcntl.LOCK_SH):
        try:
            committed = history.nights()
        except HistoryDamaged as error:
            return [Problem(None, str(error))]
        checker = Checker(history.folder, trust_unchanged=not full)
        problems = []
        for night, entry in committed.items():
            problems.extend(night_problems(history, night, entry, checker, full=full))
            if site_lines_dir is not None:
                problems.extend(site_line_problems(night, entry, site_lines_dir, checker))
        for name in sorted(set(history.folders()) - set(committed)):
            problems.append(Problem(name, f"{history.folder / name}: a night folder the manifest does not list "
                                          "(a commit cut short, or copied in by hand)", warning=True))
        problems.extend(index_problems(history, committed, sample=INDEX_SAMPLE if not full else None))
        problems.extend(stale_nights(committed))
        checker.save()
    return problems



def night_problems(history: History, night: str, entry: NightEntry, checker: "Checker", full: bool) -> list[Problem]:
    folder = history.folder / night
    if not folder.is_dir():
        return [Problem(night, f"{folder}: missing, but {history.manifest_path} lists night {night}; {REBUILD_HINT}")]
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
        problems.extend(Problem(night, f"{message}; {REBUILD_HINT}") for message in structure_problems(folder))
    return problems





def index_problems(history: History, committed: dict[str, NightEntry], checked: Sequence[str] | None = None,
                   sample: int | None = INDEX_SAMPLE) -> list[Problem]:
    """The Redis index against the manifest: the same nights with the same commits, and
    each of the ``checked`` nights' entries (a ``sample`` of them, or all) present."""
    if history.index is None:
        return []
    indexed = history.index.nights()
    problems = []
    evicted = history.index.evicted_since_rebuild()
    if evicted:
        problems.append(Problem(None, f"the Redis index {history.index.url}: its server evicted {evicted:,} keys since "
                                      "the index was last rebuilt (INFO stats evicted_keys), any of them the index's; "
                                      f"set maxmemory-policy noeviction, then {REBUILD_HINT}"))
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
        problems.append(Problem(night, f"the Redis index {history.index.url} {what} (night {night}, "
                                       f"{history.manifest_path}); {REBUILD_HINT}"))
    for night in (committed if checked is None else checked):
        if night not in committed or indexed.get(night) != (committed[night].digest, committed[night].articles):
            continue
        try:
            lacking, looked = history.index.missing(night, NightFolder(history.folder / night), sample)
        except HistoryDamaged:
            continue  # the folder's own problem, reported by the file checks
        if lacking:
            problems.append(Problem(night, f"the Redis index {history.index.url} lacks {lacking:,} of the "
                                           f"{looked:,} entries of night {night} looked for (keys evicted or "
                                           f"deleted); {REBUILD_HINT}"))
    return problems

# --- repairing ------------------------------------------------------------------------------



# --- checksums, trusted while a file is unchanged -------------------------------------------------


@dataclass
class Checker:
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
                write_text(self.folder / CHECKED_NAME, orjson.dumps(self.cache, option=orjson.OPT_SORT_KEYS).decode())
            except OSError:
                pass  # only a cache: the next check reads the files again


def structure_problems(folder: Path) -> list[str]:
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


def site_line_problems(night: str, entry: NightEntry | None, folder: Path, checker: Checker) -> list[Problem]:
    """The site-line counts of a night: as committed (checksum), and sane (no line on more
    of a site's pages than the site has)."""
    path = folder / f"{night}.json"
    if entry is not None and entry.site_lines is not None:
        found = checker.sum(path)
        if found is None:
            return [Problem(night, f"{path}: missing, but {night}'s commit recorded it; {REBUILD_HINT}")]
        if found != entry.site_lines:
            aside = committed_aside(path)
            if checker.sum(aside) == entry.site_lines:
                return [Problem(night, f"{path}: the counts of a rerun of night {night} that has not committed yet "
                                       f"(the committed ones wait in {aside.name}): run the night again to finish it",
                                warning=True)]
            return [Problem(night, f"{path}: damaged (not the counts night {night} committed); {REBUILD_HINT}")]
    if not path.exists():
        return []
    return [Problem(night, message) for message in site_line_sanity(path)]


def committed_aside(path: Path) -> Path:
    """Where a night's committed site-line counts (``path``) wait while a rerun's new ones
    wait for the night's commit."""
    return path.with_name(f".{path.name}.committed")


def keep_committed_counts(path: Path, state_dir: Path, night: str) -> None:
    """Before a rerun replaces a committed night's site-line counts (``path``): keep them
    aside while they are the ones the history's manifest (in ``state_dir``) lists for the
    night, so that a run cut short before the commit leaves counts the checks can tell
    from damaged ones. The night's commit then removes them (``committed_aside``)."""
    try:
        manifest = Path(state_dir) / FOLDER_NAME / MANIFEST_NAME
        entry = NightEntry.from_json(orjson.loads(manifest.read_bytes())["nights"][night])
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return  # not committed, or a manifest the checks will name
    if entry.site_lines is not None and path.exists() and checksum(path) == entry.site_lines:
        write_text(committed_aside(path), path.read_text(encoding="utf-8"))


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
