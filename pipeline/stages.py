"""What each task of the night does, as plain functions: no Luigi here.

A task (``tasks``) names its input and output files and calls one function below; the
function reads, works chunk by chunk (through ``io.parallel.run_stream``, with one or
several processes), writes the stage's files and returns its :class:`StageStats`, the
one way a stage reports what it counted and how long it took (the report's source).

    read_and_repair      raw files -> articles (stages/1-read), repaired (2-repair),
                         each page's line keys for the site-line counts
    count_site_lines     those keys, tonight's and recent nights' -> lines a site repeats
    clean_and_sign       repaired articles -> clean articles (3-clean), removed lines,
                         and their fingerprints (4-sign)
    gather_removed       the shards' removed lines and rejections -> the night's (3-removed)

The night's dedup step is ``dedup.night``; its outputs, ``outputs``.
"""

from __future__ import annotations

import functools
import gc
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import orjson

from pipeline import repair
from pipeline.clean import sitelines
from pipeline.clean.boilerplate import CleanContext, clean_records
from pipeline.clean.rules import BoilerplateConfig, RulesError, SiteLineSettings, load_rules
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import load_kernels, make_docs
from pipeline.io.arrays import DocsWriter
from pipeline.io.jsonl import (
    atomic_writer,
    dump_lines,
    dumps,
    read_jsonl,
    write_bytes,
    write_json,
    write_jsonl,
)
from pipeline.io.parallel import MAX_CHUNK, batches, run_stream, tune_malloc
from pipeline.read.files import Shard
from pipeline.read.readers import iter_file
from pipeline.records import Article, Rejection, StageStats
from pipeline.report.nightdata import top_removed
from pipeline.text import site_of

Advance = Callable[[int], None]


def _ignore(count: int) -> None:
    pass


# --- read, then repair: per shard ---------------------------------------------------------------


@dataclass(frozen=True)
class ReadPaths:
    articles: Path
    rejected: Path
    stats: Path
    repaired: Path
    repair_rejected: Path
    sitepages: Path
    repair_stats: Path


@dataclass(frozen=True)
class RepairedChunk:
    """A chunk of articles repaired: the records and each page's site and line keys as
    JSONL, the counts, and the seconds it took (in whichever process did it)."""

    lines: bytes
    pages: bytes
    articles: int
    repaired: int
    fixes: Counter
    seconds: float


def repair_chunk(records: list[dict]) -> RepairedChunk:
    """Repair a chunk of article records and fingerprint their lines for the site lines."""
    started = time.perf_counter()
    repaired = repair.repair_records(records)
    pages = []
    hashes_of_texts = sitelines.line_hashes_of_texts([record["text"] for record in repaired])
    for record, hashes in zip(repaired, hashes_of_texts):
        page = sitelines.page_keys(record["text"].split("\n"), hashes)
        if page is not None:
            pages.append([site_of(record.get("url"), record["source"]["file"]), *page])
    return RepairedChunk(
        lines=dump_lines(repaired), pages=dump_lines(pages), articles=len(repaired),
        repaired=sum(r["fixes"]["encoding"]["repaired"] for r in repaired),
        fixes=Counter(f for r in repaired for f in r["fixes"]["encoding"]["fixes"]),
        seconds=time.perf_counter() - started,
    )


def read_and_repair(night_dir: Path, date: str, shard: Shard, rules: BoilerplateConfig, paths: ReadPaths,
                    processes: int = 1, advance: Advance = _ignore) -> tuple[StageStats, StageStats]:
    """Read a shard's raw files into articles and rejections, repair the articles as they
    come (in chunks, with ``processes``), and write both stages' files; ``advance(1)``
    after each file. Returns the read stage's and the repair stage's stats."""
    read = StageStats(Counter(files=len(shard.files), articles=0, rejected=0),
                      extra={"files": [{"file": f, "bytes": size} for f, size in zip(shard.files, shard.sizes)]})
    fixed = StageStats(Counter(articles=0, repaired=0))
    fixes: Counter = Counter()
    with ExitStack() as stack:
        out = {name: stack.enter_context(atomic_writer(getattr(paths, name)))
               for name in ("articles", "rejected", "repaired", "repair_rejected", "sitepages")}

        def chunks() -> Iterator[list[dict]]:
            """The shard's articles as they are read, in chunks; their read-stage lines
            (before the repair changes them) and the rejections are written on the way."""
            records: list[dict] = []
            for rel in shard.files:
                items = iter_file(night_dir, rel, date, rules.for_source(None, rel)[0])
                while True:
                    with read.timing():
                        item = next(items, None)
                        if item is None:
                            break
                        if isinstance(item, Rejection):
                            out["rejected"].write(dumps(item.to_dict()))
                            read.counts["rejected"] += 1
                            continue
                        records.append(item.to_dict())
                        full = len(records) == MAX_CHUNK
                        if full:
                            out["articles"].write(dump_lines(records))
                    if full:
                        yield records
                        records = []
                advance(1)
            if records:
                with read.timing():
                    out["articles"].write(dump_lines(records))
                yield records

        for chunk in run_stream(repair_chunk, chunks(), processes):
            with fixed.timing():
                out["repaired"].write(chunk.lines)
                out["sitepages"].write(chunk.pages)
            read.counts["articles"] += chunk.articles
            fixed.counts.update(articles=chunk.articles, repaired=chunk.repaired)
            fixed.seconds += chunk.seconds
            fixes.update(chunk.fixes)
    read.counts, fixed.counts = dict(read.counts), {**fixed.counts, "fixes": dict(sorted(fixes.items()))}
    read.write(paths.stats)
    fixed.write(paths.repair_stats)
    return read, fixed


# --- the lines sites repeat: once a night ---------------------------------------------------------


def count_site_lines(sitepages: Sequence[Path], recent: Sequence[tuple[str, Path]], settings: SiteLineSettings,
                     night: str, lines_path: Path, stats_path: Path, state_path: Path) -> StageStats:
    """Count, per site, on how many pages each line appears, tonight (from the shards'
    page keys, in order) and on the ``recent`` nights (their saved counts, oldest last),
    write the lines found repeated, and save tonight's counts for later nights."""
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
    write_json(state_path, saved)
    return stats


# --- clean, then fingerprint: per shard ---------------------------------------------------------


@dataclass(frozen=True)
class CleanPaths:
    articles: Path
    rejected: Path
    removed: Path
    stats: Path
    docs: Path
    sign_stats: Path


@dataclass(frozen=True)
class CleanedChunk:
    """A chunk of articles cleaned: kept records, rejections and removed lines as JSONL,
    the counts, and the kept articles' fingerprints (dedup's ``Doc``)."""

    lines: bytes
    rejections: bytes
    removed: bytes
    kept: int
    rejected: int
    rules: Counter
    docs: list[Doc]
    clean_seconds: float
    sign_seconds: float


def clean_chunk(records: list[dict], context: CleanContext, night: str, config: DedupConfig) -> CleanedChunk:
    """Clean a chunk of repaired records and fingerprint the ones kept."""
    started = time.perf_counter()
    kept, rejections, removed = [], [], []
    for record, removals, rejection in clean_records(records, context):
        removed.extend(
            {"id": record["id"], "file": record["source"]["file"], "line": removal.line,
             "rule": removal.rule, "text": removal.text}
            for removal in removals
        )
        if rejection is None:
            kept.append(record)
        else:
            rejections.append(rejection.to_dict())
    lines, rejected_lines, removed_lines = dump_lines(kept), dump_lines(rejections), dump_lines(removed)
    signed = time.perf_counter()
    docs = make_docs([
        {"key": f"{night}/{Article.key_of(r['source'])}", "id": r["id"], "text": r["text"], "title": r["title"],
         "published": r["published"]}
        for r in kept
    ], night=night, config=config)
    return CleanedChunk(
        lines=lines, rejections=rejected_lines, removed=removed_lines, kept=len(kept), rejected=len(rejections),
        rules=Counter(r["rule"] for r in removed), docs=docs, clean_seconds=signed - started,
        sign_seconds=time.perf_counter() - signed,
    )


def clean_and_sign(repaired: Path, context: CleanContext, night: str, config: DedupConfig, paths: CleanPaths,
                   processes: int = 1, advance: Advance = _ignore) -> tuple[StageStats, StageStats]:
    """Clean a shard's repaired articles and fingerprint the kept ones, chunk by chunk,
    writing both stages' files; ``advance(n)`` after each chunk of n articles. Returns
    the clean stage's and the sign stage's stats."""
    clean, sign = StageStats(), StageStats()
    rules: Counter = Counter()
    kept = rejected = 0
    with ExitStack() as stack:
        out = {name: stack.enter_context(atomic_writer(getattr(paths, name)))
               for name in ("articles", "rejected", "removed")}
        docs = stack.enter_context(DocsWriter(paths.docs, config.num_perm))
        work = _CleanWork(context, night, config)
        for chunk in run_stream(work, batches(read_jsonl(repaired)), processes, advance):
            with clean.timing():
                for name, part in (("articles", chunk.lines), ("rejected", chunk.rejections), ("removed", chunk.removed)):
                    out[name].write(part)
            with sign.timing():
                for doc in chunk.docs:
                    doc.rank = kept  # positions in the shard, whatever the chunking
                    kept += 1
                docs.add(chunk.docs)
            clean.seconds += chunk.clean_seconds  # spent in whichever process did the chunk
            sign.seconds += chunk.sign_seconds
            rejected += chunk.rejected
            rules.update(chunk.rules)
        with sign.timing():
            docs.finish()
    sign.counts = {"articles": kept}
    clean.counts = {"articles_in": kept + rejected, "articles_out": kept, "rejected": rejected,
                    "lines_removed": dict(sorted(rules.items()))}
    sign.write(paths.sign_stats)
    clean.write(paths.stats)
    return clean, sign


@dataclass(frozen=True)
class _CleanWork:
    """``clean_chunk`` with the stage's settings, picklable for a pool of processes."""

    context: CleanContext
    night: str
    config: DedupConfig

    def __call__(self, records: list[dict]) -> CleanedChunk:
        return clean_chunk(records, self.context, self.night, self.config)


# --- the night's removed lines and rejections ------------------------------------------------------

_STAGE_ORDER = {"list": 0, "read": 1, "repair": 2, "clean": 3}


def rejection_order(record: dict) -> tuple:
    """Rejections sorted as ``rejected.jsonl`` lists them: by file, stage, line, offset."""
    return (record["file"], _STAGE_ORDER.get(record["stage"], 9), record["line"] or 0, record["offset"] or 0)


def gather_removed(listing: Iterable[Rejection], rejected: Sequence[Path], removed: Sequence[Path],
                   rejected_path: Path, removed_path: Path, top_path: Path) -> None:
    """The night's rejections (the listing's, then the shards', sorted), its removed lines
    (the shards', in the night's order) and the most removed lines per rule."""
    records = [r.to_dict() for r in listing]
    for path in rejected:
        records.extend(read_jsonl(path))
    records.sort(key=rejection_order)
    write_jsonl(rejected_path, records)
    parts = [path.read_bytes() for path in removed]  # read once: written, then counted
    write_bytes(removed_path, parts)
    write_json(top_path, top_removed(orjson.loads(line) for part in parts for line in part.splitlines() if line.strip()))


@functools.cache
def prepare_before_forking(rules_file: Path) -> None:
    """Once per process, before Luigi forks a process per task (with several workers):
    the rules and the compiled loops loaded (65 ms for the rules' patterns, about 0.1 s
    for each of numba's loops), so that every task inherits them; glibc told to keep the
    memory a process frees (``io.parallel.tune_malloc``); and the objects loaded so far
    frozen for the garbage collector, which would otherwise walk (and so copy, page by
    page) every one of them in each forked process."""
    try:
        load_rules(rules_file)
    except RulesError:
        pass  # reported by the settings check
    load_kernels()
    sitelines.load_kernels()
    tune_malloc()
    gc.freeze()
