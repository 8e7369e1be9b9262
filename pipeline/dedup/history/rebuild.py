"""Repairing the history: ``python -m pipeline history rebuild``.

Every night listed in the manifest, or finished in ``out_dir``, gets an intact folder:
kept when it matches the manifest, else made again from the night's stage files (the
very files of its commit), else from its ``articles.jsonl`` and ``duplicates.jsonl``
(:class:`RebuildSources`, implemented where the night's files are known:
``operate.commands``). Then a new manifest, and the Redis index filled from the folders.
"""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.history.checking import Checker, night_problems, structure_problems
from pipeline.dedup.history.files import HistoryDamaged, NightFolder, checksum
from pipeline.dedup.history.manifest import CommitInfo, NightEntry, Problem, window_digest
from pipeline.dedup.history.store import STORE, History


class RebuildSources:
    """Where ``history rebuild`` finds a night's kept articles again: its stage files, or
    the ``articles.jsonl`` (every kept article) and ``duplicates.jsonl`` of ``out_dir``.
    Implemented by the task layer, which knows the stage files (see ``operate.commands``)."""

    out_dir: Path

    def finished_nights(self) -> list[str]:
        raise NotImplementedError

    def kept_articles(self, night: str, config: DedupConfig, stages: bool = True
                      ) -> tuple[list[Doc], list[tuple[str, str, str]], str] | None:
        """The night's kept articles fingerprinted with ``config``, the earlier articles it
        superseded, and where they came from (``stages``: its stage files may serve)."""
        raise NotImplementedError

    def commit_info(self, night: str) -> CommitInfo:
        raise NotImplementedError



def rebuild(history: History, sources: RebuildSources) -> tuple[list[str], list[Problem]]:
    """Make the history whole again: every night listed in the manifest, or finished in
    ``out_dir``, gets an intact folder (kept when it matches the manifest, else made
    again from the night's stage files, else from its ``articles.jsonl``), a new
    manifest is written, and the Redis index is rebuilt from the folders. A history
    built with other dedup settings is made again whole, every night fingerprinted with
    these from its ``articles.jsonl``. Returns what was done, a line a night, and what
    could not be repaired."""
    done: list[str] = []
    problems: list[Problem] = []
    changed = history.settings_before
    if changed:
        done.append(f"dedup settings changed ({changed} -> these): every night fingerprinted again from out_dir; "
                    "its outputs stay those of the old settings (rerun a night to apply these)")
    with history.locked(fcntl.LOCK_EX):
        try:
            old, damaged = history.read_manifest()
        except HistoryDamaged as error:
            done.append(f"manifest unreadable ({error}): made again from the night folders and out_dir")
            old, damaged = {}, {}
        for night, why in damaged.items():
            done.append(f"night {night}: its manifest entry {why}: made again from its folder and out_dir")
        checker = Checker(history.folder, trust_unchanged=False)
        folders = set(history.folders())
        nights = sorted(set(old) | set(sources.finished_nights()) | set(damaged) | (folders if not old else set()))
        rebuilt: dict[str, NightEntry] = {}
        for night in nights:
            entry = old.get(night)
            intact = not changed and night in folders and (
                not night_problems(history, night, entry, checker, full=True) if entry is not None
                else not structure_problems(history.folder / night)
            )
            if intact:
                if entry is None:
                    entry = history.entry_of_folder(night, sources.commit_info(night))
                    done.append(f"night {night}: folder intact, listed again")
                elif entry.site_lines is None:  # counts restored since (see operate.history)
                    counts = sources.commit_info(night).site_lines
                    entry.site_lines = checksum(counts) if counts and counts.exists() else None
                rebuilt[night] = entry
                continue
            made = sources.kept_articles(night, history.config, stages=not changed)
            if made is None:
                problems.append(Problem(night, f"night {night}: its folder is damaged or missing and "
                                               f"{sources.out_dir / night} has neither stage files nor "
                                               "articles.jsonl to rebuild it from"))
                shutil.rmtree(history.folder / night, ignore_errors=True)
                continue
            kept, superseded, origin = made
            info = sources.commit_info(night)
            if entry is not None:
                info.compared_with, info.gaps = entry.compared_with, entry.gaps
            rebuilt[night] = history.commit_unlocked(night, kept, superseded, info, nights=rebuilt)
            done.append(f"night {night}: folder made again from {origin} ({len(kept)} articles)")
        if changed:  # the nights' windows, as they are now made: a new baseline, not stale
            for night, entry in rebuilt.items():
                if entry.compared_with:
                    entry.compared_with = window_digest(rebuilt, night, entry.compared_with.get("since"))
        history.write_manifest(rebuilt)
        if history.index is not None:
            if changed:  # the old settings' index, of no use to anyone now
                history.index.clear(changed.removesuffix(f"-{STORE}"))
            history.index.clear()
            for night, entry in rebuilt.items():
                history.index.replace_night(night, entry.digest, NightFolder(history.folder / night))
            history.index.mark_rebuilt()
            done.append(f"Redis index {history.index.url}: rebuilt with {len(rebuilt)} nights")
        if changed:
            history.adopt_settings()
        checker.save()
    return done, problems
