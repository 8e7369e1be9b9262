"""The night-level steps between and after the shards' passes, as plain functions: no
Luigi here.

    count_site_lines     the shards' page keys, tonight's and recent nights' -> lines a
                         site repeats (stages/3-site-lines)
    gather_removed       the shards' removed lines and rejections -> the night's (3-removed)
    prepare_before_forking  what every task's process inherits

A shard's own passes are ``passes``; the night's dedup step is ``dedup.night``; its
outputs, ``outputs``.
"""


from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import orjson

from pipeline.clean import sitelines
from pipeline.clean.rules import (
    RulesError,
    SiteLineSettings,
    load_rules,
)
from pipeline.dedup.fingerprint import load_kernels
from pipeline.io.jsonl import (
    read_jsonl,
    write_bytes,
    write_json,
    write_jsonl,
)
from pipeline.io.parallel import tune_malloc
from pipeline.language import Identifier
from pipeline.records import Rejection, StageStats
from pipeline.report.nightdata import top_removed

# --- the lines sites repeat: once a night ---------------------------------------------------------


def count_site_lines(sitepages: Sequence[Path], recent: Sequence[tuple[str, Path]], settings: SiteLineSettings,
                     night: str, lines_path: Path, stats_path: Path, state_path: Path,
                     counts_path: Path | None = None) -> StageStats:
    """Count, per site, on how many pages each line appears, tonight (from the shards'
    page keys, in order) and on the ``recent`` nights (their saved counts, oldest last),
    write the lines found repeated, and save tonight's counts for later nights (in the
    state folder, and a copy in ``counts_path``, which ``history rebuild`` restores)."""
    stats = StageStats()
    with stats.timing():
        tonight = sitelines.SiteCounts()
        for path in sitepages:
            for site, story, keys in read_jsonl(path):
                tonight.add_page(site, story, keys)
        saved = tonight.to_json()
        counts = sitelines.SiteCounts()
        counts.merge(saved)
        earlier = []
        for earlier_night, path in recent:
            counts.merge(orjson.loads(path.read_bytes()))
            earlier.append(earlier_night)
        boilerplate = counts.boilerplate(settings) if settings.enabled else {}
        write_json(lines_path, {
            "nights": [night] + earlier,
            "pages": dict(sorted(counts.pages.items())),
            "boilerplate": {site: sorted(keys) for site, keys in sorted(boilerplate.items())},
        })
        stats.counts = {"sites": len(counts.pages), "sites_with_boilerplate": len(boilerplate),
                        "boilerplate_lines": sum(len(keys) for keys in boilerplate.values())}
    stats.write(stats_path)
    if counts_path is not None:
        write_json(counts_path, saved)
    write_json(state_path, saved)
    return stats


# --- the night's removed lines and rejections ------------------------------------------------------

_STAGE_ORDER = {"list": 0, "read": 1, "repair": 2, "clean": 3}


def rejection_order(record: dict) -> tuple:
    """Rejections sorted as ``rejected.jsonl`` lists them: by file, stage, line, offset."""
    return (record["file"], _STAGE_ORDER.get(record["stage"], 9), record["line"] or 0, record["offset"] or 0)


def gather_removed(listing: Iterable[Rejection], rejected: Sequence[Path], removed: Sequence[Path],
                   rejected_path: Path, removed_path: Path, top_path: Path) -> None:
    """The night's rejections (the listing's, then the shards', sorted), its removed lines
    (the shards', in the night's order, copied a block at a time) and the most removed
    lines per rule (counted from the file just written, a line at a time)."""
    records = [r.to_dict() for r in listing]
    for path in rejected:
        records.extend(read_jsonl(path))
    records.sort(key=rejection_order)
    write_jsonl(rejected_path, records)
    write_bytes(removed_path, _blocks(removed))
    write_json(top_path, top_removed(read_jsonl(removed_path)))


def _blocks(paths: Sequence[Path], size: int = 1 << 22) -> Iterator[bytes]:
    """The files' bytes end to end, ``size`` at a time."""
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(size):
                yield block


@functools.cache
def prepare_before_forking(rules_file: Path) -> None:
    """Once per process, before Luigi forks a process per task (with several workers):
    the rules, the language model and the compiled loops loaded (65 ms for the rules'
    patterns, about 0.1 s for each of numba's loops), so that every task inherits them;
    glibc told to keep the memory a process frees (``io.parallel.tune_malloc``); and the
    objects loaded so far frozen for the garbage collector, which would otherwise walk
    (and so copy, page by page) every one of them in each forked process."""
    try:
        load_rules(rules_file)
    except RulesError:
        pass  # reported by the settings check
    load_kernels()
    sitelines.load_kernels()
    Identifier.shared().classify_many(["Warm up: the language model's loops and arrays."])
    tune_malloc()
    gc.freeze()
