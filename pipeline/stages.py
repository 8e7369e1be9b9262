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

import collections
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
from pipeline.clean.rules import (
    BoilerplateConfig,
    HtmlSettings,
    RulesError,
    SiteLineSettings,
    load_rules,
)
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import load_kernels, make_docs
from pipeline.io.arrays import DocsWriter
from pipeline.io.jsonl import (
    atomic_writer,
    dump_lines,
    read_jsonl,
    write_bytes,
    write_json,
    write_jsonl,
)
from pipeline.io.parallel import MAX_CHUNK, batches, run_stream, tune_malloc
from pipeline.read.budget import PageBudget
from pipeline.read.files import RawSum, Shard
from pipeline.read.html import RULE, Page, extract
from pipeline.read.readers import MAX_PAGE_BYTES, iter_file
from pipeline.read.warc import WarcCounts
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
    removed: Path
    stats: Path
    repaired: Path
    repair_rejected: Path
    sitepages: Path
    repair_stats: Path


@dataclass(frozen=True)
class PageSettings:
    """How pages are read: trafilatura's settings and the largest page read."""

    extract: HtmlSettings = HtmlSettings()
    max_page_bytes: int = MAX_PAGE_BYTES
    budget: PageBudget = PageBudget()


@dataclass(frozen=True)
class RepairedChunk:
    """A chunk of articles read and repaired: the pages' articles as read (when the chunk
    had pages), their rejections and the blocks extraction left out, the repaired records
    and each page's site and line keys as JSONL, the counts, and the seconds each step
    took (in whichever process did it)."""

    read_lines: bytes | None
    rejections: bytes
    removed: bytes
    lines: bytes
    pages: bytes
    articles: int
    repaired: int
    fixes: Counter
    extracted: int
    extract_rejected: int
    extract_seconds: float
    seconds: float


def repair_chunk(items: list[dict | Page], settings: PageSettings = PageSettings()) -> RepairedChunk:
    """Make a chunk's pages articles (``html.extract``), repair the chunk's articles, and
    fingerprint their lines for the site lines."""
    started = time.perf_counter()
    records, rejections, removed, pages = [], [], [], 0
    for item in items:
        if isinstance(item, Page):
            pages += 1
            extracted = extract(item, settings.extract, settings.max_page_bytes, settings.budget)
            if extracted.rejection is not None:
                rejections.append(extracted.rejection.to_dict())
            else:
                records.append(extracted.article.to_dict())
                removed.extend(extracted.removed)
        else:
            records.append(item)
    read_lines = dump_lines(records) if pages else None  # as read, before the repair changes them
    extract_seconds = time.perf_counter() - started
    started = time.perf_counter()
    repaired = repair.repair_records(records)
    site_pages = []
    hashes_of_texts = sitelines.line_hashes_of_texts([record["text"] for record in repaired])
    for record, hashes in zip(repaired, hashes_of_texts):
        page = sitelines.page_keys(record["text"].split("\n"), hashes)
        if page is not None:
            site_pages.append([site_of(record.get("url"), record["source"]["file"]), *page])
    return RepairedChunk(
        read_lines=read_lines, rejections=dump_lines(rejections), removed=dump_lines(removed),
        lines=dump_lines(repaired), pages=dump_lines(site_pages), articles=len(repaired),
        repaired=sum(r["fixes"]["encoding"]["repaired"] for r in repaired),
        fixes=Counter(f for r in repaired for f in r["fixes"]["encoding"]["fixes"]),
        extracted=pages - len(rejections), extract_rejected=len(rejections), extract_seconds=extract_seconds,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _RepairWork:
    """``repair_chunk`` with the stage's page settings, picklable for a pool of processes."""

    settings: PageSettings

    def __call__(self, items: list[dict | Page]) -> RepairedChunk:
        return repair_chunk(items, self.settings)


# Bytes of pages in a chunk at most (besides MAX_CHUNK items): pages are large, and the
# chunks in flight are held in memory.
CHUNK_PAGE_BYTES = 8 << 20


def read_and_repair(night_dir: Path, date: str, shard: Shard, rules: BoilerplateConfig, paths: ReadPaths,
                    processes: int = 1, advance: Advance = _ignore,
                    pages: PageSettings = PageSettings()) -> tuple[StageStats, StageStats]:
    """Read a shard's raw files into articles, pages and rejections, make the pages
    articles and repair the articles as they come (in chunks, with ``processes``), and
    write both stages' files; ``advance(1)`` after each file. Returns the read stage's
    (extraction included) and the repair stage's stats."""
    read = StageStats(Counter(files=len(shard.files), articles=0, rejected=0, pages=0))
    sums: list[RawSum] = []  # what each file held as it was read: what the stage is made from
    extraction = StageStats(Counter(pages=0, articles=0, rejected=0, blocks_removed=0))
    fixed = StageStats(Counter(articles=0, repaired=0))
    fixes: Counter = Counter()
    warc = WarcCounts()
    # What the reader wrote for each chunk, in chunk order: the chunk's articles as read
    # (None when it has pages: the worker makes those articles) and the rejections met
    # before it; written when the chunk's result comes, so that files keep the input order.
    waiting: collections.deque[tuple[bytes | None, bytes]] = collections.deque()
    with ExitStack() as stack:
        out = {name: stack.enter_context(atomic_writer(getattr(paths, name)))
               for name in ("articles", "rejected", "removed", "repaired", "repair_rejected", "sitepages")}

        def chunks() -> Iterator[list[dict | Page]]:
            """The shard's articles and pages as they are read, in chunks."""
            items: list[dict | Page] = []
            rejected: list[dict] = []
            has_pages, page_bytes = False, 0
            for rel in shard.files:
                found = iter_file(night_dir, rel, date, rules.for_source(None, rel)[0], pages.max_page_bytes, warc,
                                  sums)
                while True:
                    with read.timing():
                        item = next(found, None)
                        if item is None:
                            break
                        if isinstance(item, Rejection):
                            rejected.append(item.to_dict())
                            continue
                        if isinstance(item, Page):
                            has_pages, page_bytes = True, page_bytes + len(item.html)
                            items.append(item)
                        else:
                            items.append(item.to_dict())
                        full = len(items) == MAX_CHUNK or page_bytes >= CHUNK_PAGE_BYTES
                        if full:
                            waiting.append((None if has_pages else dump_lines(items), dump_lines(rejected)))
                    if full:
                        yield items
                        items, rejected, has_pages, page_bytes = [], [], False, 0
                advance(1)
            if items:
                with read.timing():
                    waiting.append((None if has_pages else dump_lines(items), dump_lines(rejected)))
                yield items
            elif rejected:
                waiting.append((None, dump_lines(rejected)))  # after the last chunk: written at the end

        def write_read(read_lines: bytes | None, rejected: bytes) -> None:
            with read.timing():
                out["rejected"].write(rejected)
                read.counts["rejected"] += rejected.count(b"\n")
                if read_lines:
                    out["articles"].write(read_lines)

        for chunk in run_stream(_RepairWork(pages), chunks(), processes):
            read_lines, rejected = waiting.popleft()
            write_read(read_lines if read_lines is not None else chunk.read_lines, rejected + chunk.rejections)
            out["removed"].write(chunk.removed)
            with fixed.timing():
                out["repaired"].write(chunk.lines)
                out["sitepages"].write(chunk.pages)
            read.counts["articles"] += chunk.articles
            extraction.counts.update(pages=chunk.extracted + chunk.extract_rejected, articles=chunk.extracted,
                                     rejected=chunk.extract_rejected, blocks_removed=chunk.removed.count(b"\n"))
            extraction.seconds += chunk.extract_seconds
            fixed.counts.update(articles=chunk.articles, repaired=chunk.repaired)
            fixed.seconds += chunk.seconds
            fixes.update(chunk.fixes)
        while waiting:
            write_read(*waiting.popleft())
    read.extra["files"] = [{"file": f, "bytes": size, "xxh3": xxh3} for f, size, xxh3 in sums]
    read.counts["pages"] = extraction.counts["pages"]
    if extraction.counts["blocks_removed"]:
        read.counts["lines_removed"] = {RULE: extraction.counts["blocks_removed"]}
    if warc.records:
        read.extra["warc"] = {"records": warc.records, "pages": warc.pages, "skipped": dict(sorted(warc.skipped.items()))}
    read.extra["extract"] = {"counts": dict(extraction.counts), "seconds": round(extraction.seconds, 3)}
    read.counts, fixed.counts = dict(read.counts), {**fixed.counts, "fixes": dict(sorted(fixes.items()))}
    read.write(paths.stats)
    fixed.write(paths.repair_stats)
    return read, fixed


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
             "rule": removal.rule, "text": removal.text, **({"detail": removal.detail} if removal.detail else {})}
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
