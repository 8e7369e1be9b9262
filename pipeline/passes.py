"""A shard's two passes, as rows of named steps over chunks of records: no Luigi here.

A task (``tasks``) names its input and output files and calls one function below; the
function works chunk by chunk (in one process or a pool, ``io.parallel``), every step a
plain function with its own tally (:class:`Tally`: counts and seconds), and writes its
stages' files once:

    read_and_repair  the read pass: raw files -> articles (stages/1-read), repaired
                     (2-repair), each page's line keys for the site-line counts
                     (steps: reading, extract_step, repair_step, site_keys_step)
    clean_and_sign   the clean pass: repaired articles -> clean articles (3-clean),
                     removed lines, and their fingerprints (4-sign)
                     (steps: clean_step, sign_step)

Two passes, not one: cleaning needs the lines the night's sites repeat, which are
known only once every shard is read (``stages.count_site_lines``, between the passes).
The stages' ``stats.json`` are made from the steps' tallies.
"""


from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from pipeline import repair
from pipeline.clean import sitelines
from pipeline.clean.boilerplate import CleanContext, clean_records
from pipeline.clean.rules import (
    BoilerplateConfig,
    HtmlSettings,
)
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import make_docs
from pipeline.io.arrays import DocsWriter
from pipeline.io.jsonl import (
    atomic_writer,
    dump_lines,
    read_jsonl,
)
from pipeline.io.parallel import MAX_CHUNK, batches, run_carried, run_stream
from pipeline.read.budget import PageBudget
from pipeline.read.files import RawSum, Shard
from pipeline.read.html import RULE, Page, extract
from pipeline.read.readers import MAX_PAGE_BYTES, iter_file
from pipeline.read.warc import WarcCounts
from pipeline.records import Article, Rejection, StageStats, timed
from pipeline.text import site_of

Advance = Callable[[int], None]


def _ignore(count: int) -> None:
    pass


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


# What the steps count, in the order their stages' stats.json list it.
EXTRACT_COUNTS = ("pages", "articles", "rejected", "blocks_removed")
REPAIR_COUNTS = ("articles", "repaired")
CLEAN_COUNTS = ("kept", "rejected")


@dataclass
class Tally:
    """What one step counted over a chunk, or a shard: its ``counts``, its counts by kind
    (the fixes made, the rules that removed lines), and the seconds it took, in whichever
    process ran it. A shard's tally is its chunks' added up."""

    counts: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @classmethod
    def of(cls, names: Sequence[str]) -> "Tally":
        """A tally of these counts at 0, in this order (the order ``stats.json`` lists them)."""
        return cls(Counter(dict.fromkeys(names, 0)))

    def add(self, other: "Tally") -> None:
        self.counts.update(other.counts)
        self.kinds.update(other.kinds)
        self.seconds += other.seconds


# --- the read pass: raw files -> articles, repaired, and their line keys -----------------------------
#
# The shard's files are read in this process (``iter_file``: articles from text and JSONL
# dumps as they are split, pages as they are found) and grouped in chunks; each chunk
# then goes through the pass's steps, in a process of the pool when there are several:
#
#     extract_step    pages -> articles, or rejections, and the blocks left out
#     repair_step     articles -> articles repaired (ftfy)
#     site_keys_step  repaired articles -> each page's site, story and line keys
#
# and the shard writes each chunk's results once, in the chunks' order.


@dataclass(frozen=True)
class ExtractedChunk:
    """The extract step's results for a chunk: its articles (the pages' made, the others'
    as read), the pages' rejections, the blocks extraction left out."""

    records: list[dict]
    rejections: list[dict]
    removed: list[dict]
    tally: Tally


def extract_step(items: list[dict | Page], settings: PageSettings = PageSettings()) -> ExtractedChunk:
    """Make a chunk's pages articles (``html.extract``); articles already made pass as they are."""
    tally = Tally.of(EXTRACT_COUNTS)
    records, rejections, removed = [], [], []
    with timed(tally):
        for item in items:
            if isinstance(item, Page):
                extracted = extract(item, settings.extract, settings.max_page_bytes, settings.budget)
                tally.counts["pages"] += 1
                if extracted.rejection is not None:
                    rejections.append(extracted.rejection.to_dict())
                    tally.counts["rejected"] += 1
                else:
                    records.append(extracted.article.to_dict())
                    removed.extend(extracted.removed)
                    tally.counts.update(articles=1, blocks_removed=len(extracted.removed))
            else:
                records.append(item)
    return ExtractedChunk(records, rejections, removed, tally)


def repair_step(records: list[dict]) -> tuple[list[dict], Tally]:
    """Repair a chunk's articles' encoding (``repair.repair_records``), counting the
    articles, those repaired and each kind of fix."""
    tally = Tally.of(REPAIR_COUNTS)
    with timed(tally):
        repaired = repair.repair_records(records)
        fixes = [r["fixes"]["encoding"] for r in repaired]
        tally.counts.update(articles=len(repaired), repaired=sum(f["repaired"] for f in fixes))
        tally.kinds.update(kind for f in fixes for kind in f["fixes"])
    return repaired, tally


def site_keys_step(repaired: list[dict], tally: Tally) -> list[list]:
    """Each page's site, story key and line keys (``sitelines.page_keys``), for the night's
    site-line counts; timed in ``tally`` (the repair stage's, whose file they go to)."""
    with timed(tally):
        pages = []
        for record, page in zip(repaired, sitelines.page_keys_of_texts([record["text"] for record in repaired])):
            if page is not None:
                pages.append([site_of(record.get("url"), record["source"]["file"]), *page])
    return pages


@dataclass(frozen=True)
class ReadPassResult:
    """A chunk through the read pass, as its files take it: the pages' articles as made
    (None for a chunk without pages: the reader has them), rejections, removed blocks,
    repaired articles and page keys as JSONL, and each step's tally."""

    articles: bytes | None
    rejections: bytes
    removed: bytes
    repaired: bytes
    sitepages: bytes
    extract: Tally
    repair: Tally


@dataclass(frozen=True)
class ReadPass:
    """The read pass's steps over one chunk, with the stage's page settings (picklable,
    for a pool of processes)."""

    settings: PageSettings = PageSettings()

    def __call__(self, items: list[dict | Page]) -> ReadPassResult:
        extracted = extract_step(items, self.settings)
        has_pages = extracted.tally.counts["pages"] > 0
        as_read = dump_lines(extracted.records) if has_pages else None  # before the repair changes them
        repaired, tally = repair_step(extracted.records)
        sitepages = site_keys_step(repaired, tally)
        return ReadPassResult(as_read, dump_lines(extracted.rejections), dump_lines(extracted.removed),
                              dump_lines(repaired), dump_lines(sitepages), extracted.tally, tally)


@dataclass
class _AsRead:
    """What the reader knows of a chunk, kept beside it while it goes through the pass:
    its articles as read (None when it has pages: the pass makes those) and the
    rejections met while reading it."""

    articles: bytes | None
    rejected: bytes


# Bytes of pages in a chunk at most (besides MAX_CHUNK items): pages are large, and the
# chunks in flight are held in memory.
CHUNK_PAGE_BYTES = 8 << 20


def read_and_repair(night_dir: Path, date: str, shard: Shard, rules: BoilerplateConfig, paths: ReadPaths,
                    processes: int = 1, advance: Advance = _ignore,
                    pages: PageSettings = PageSettings()) -> tuple[StageStats, StageStats]:
    """Read a shard's raw files and take their chunks through the read pass (with
    ``processes``), writing both stages' files once; ``advance(1)`` after each file.
    Returns the read stage's (extraction included) and the repair stage's stats."""
    reading = Tally.of(["rejected"])
    sums: list[RawSum] = []  # what each file held as it was read: what the stage is made from
    warc = WarcCounts()
    extraction = Tally.of(EXTRACT_COUNTS)
    repaired = Tally.of(REPAIR_COUNTS)
    left: list[bytes] = []  # rejections met after the last chunk

    def chunks() -> Iterator[tuple[list[dict | Page], _AsRead]]:
        """The shard's articles and pages as they are read, in chunks, each with what the
        reader knows of it."""
        items: list[dict | Page] = []
        rejected: list[dict] = []
        has_pages, page_bytes = False, 0
        for rel in shard.files:
            found = iter_file(night_dir, rel, date, rules.for_source(None, rel)[0], pages.max_page_bytes, warc, sums)
            while True:
                with timed(reading):
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
                        as_read = _AsRead(None if has_pages else dump_lines(items), dump_lines(rejected))
                if full:
                    yield items, as_read
                    items, rejected, has_pages, page_bytes = [], [], False, 0
            advance(1)
        with timed(reading):
            as_read = _AsRead(None if has_pages else dump_lines(items), dump_lines(rejected))
        if items:
            yield items, as_read
        else:
            left.append(as_read.rejected)

    with ExitStack() as stack:
        out = {name: stack.enter_context(atomic_writer(getattr(paths, name)))
               for name in ("articles", "rejected", "removed", "repaired", "repair_rejected", "sitepages")}

        def write_read(articles: bytes | None, rejected: bytes) -> None:
            with timed(reading):
                out["rejected"].write(rejected)
                reading.counts["rejected"] += rejected.count(b"\n")
                if articles:
                    out["articles"].write(articles)

        for as_read, result in run_carried(ReadPass(pages), chunks(), processes):
            write_read(as_read.articles if as_read.articles is not None else result.articles,
                       as_read.rejected + result.rejections)
            out["removed"].write(result.removed)
            with timed(repaired):
                out["repaired"].write(result.repaired)
                out["sitepages"].write(result.sitepages)
            extraction.add(result.extract)
            repaired.add(result.repair)
        for rejected in left:
            write_read(None, rejected)
    read, repair_ = _read_stats(shard, reading, extraction, repaired, sums, warc), _repair_stats(repaired)
    read.write(paths.stats)
    repair_.write(paths.repair_stats)
    return read, repair_


def _read_stats(shard: Shard, reading: Tally, extraction: Tally, repaired: Tally, sums: list[RawSum],
                warc: WarcCounts) -> StageStats:
    """The read stage's ``stats.json``: files, articles, rejections (the reader's and
    extraction's), pages and the blocks extraction left out; each file as read, the WARC
    records met, extraction's own counts and seconds."""
    counts: dict[str, Any] = {"files": len(shard.files), "articles": repaired.counts["articles"],
                              "rejected": reading.counts["rejected"], "pages": extraction.counts["pages"]}
    if extraction.counts["blocks_removed"]:
        counts["lines_removed"] = {RULE: extraction.counts["blocks_removed"]}
    read = StageStats(counts, reading.seconds)
    read.extra["files"] = [{"file": f, "bytes": size, "xxh3": xxh3} for f, size, xxh3 in sums]
    if warc.records:
        read.extra["warc"] = {"records": warc.records, "pages": warc.pages, "skipped": dict(sorted(warc.skipped.items()))}
    read.extra["extract"] = {"counts": dict(extraction.counts), "seconds": round(extraction.seconds, 3)}
    return read


def _repair_stats(repaired: Tally) -> StageStats:
    """The repair stage's ``stats.json``: articles, those repaired, each kind of fix."""
    return StageStats({**repaired.counts, "fixes": dict(sorted(repaired.kinds.items()))}, repaired.seconds)


@dataclass(frozen=True)
class CleanPaths:
    articles: Path
    rejected: Path
    removed: Path
    stats: Path
    docs: Path
    sign_stats: Path


# --- the clean pass: repaired articles -> clean articles and their fingerprints ----------------------
#
# Once the night's site lines are counted, each chunk of a shard's repaired articles goes
# through the pass's steps (in a process of the pool when there are several):
#
#     clean_step  articles -> clean articles or rejections, and the lines removed (the
#                 rules, the site's repeated lines, the language, the line classifier:
#                 ``boilerplate.clean_records``)
#     sign_step   clean articles -> their shingles and MinHash signatures (dedup's ``Doc``)
#
# and the shard writes each chunk's results once, in the chunks' order.


@dataclass(frozen=True)
class CleanedChunk:
    """The clean step's results for a chunk: the articles kept, as records, and the
    rejections and removed lines as JSONL."""

    kept: list[dict]
    rejections: bytes
    removed: bytes
    tally: Tally


def clean_step(records: list[dict], context: CleanContext) -> CleanedChunk:
    """Clean a chunk of repaired records, counting the articles kept and rejected and the
    lines each rule removed."""
    tally = Tally.of(CLEAN_COUNTS)
    with timed(tally):
        kept, rejections, removed = [], [], []
        for record, removals, rejection in clean_records(records, context):
            removed.extend(
                {"id": record["id"], "file": record["source"]["file"], "line": removal.line,
                 "rule": removal.rule, "text": removal.text, **({"detail": removal.detail} if removal.detail else {})}
                for removal in removals
            )
            tally.kinds.update(removal.rule for removal in removals)
            if rejection is None:
                kept.append(record)
            else:
                rejections.append(rejection.to_dict())
        tally.counts.update(kept=len(kept), rejected=len(rejections))
        rejected_lines, removed_lines = dump_lines(rejections), dump_lines(removed)
    return CleanedChunk(kept, rejected_lines, removed_lines, tally)


def sign_step(kept: list[dict], night: str, config: DedupConfig) -> tuple[list[Doc], Tally]:
    """The clean articles' shingles and MinHash signatures, keyed night/file#index."""
    tally = Tally()
    with timed(tally):
        docs = make_docs([
            {"key": f"{night}/{Article.key_of(r['source'])}", "id": r["id"], "text": r["text"], "title": r["title"],
             "published": r["published"]}
            for r in kept
        ], night=night, config=config)
        tally.counts["articles"] = len(docs)
    return docs, tally


@dataclass(frozen=True)
class CleanPassResult:
    """A chunk through the clean pass, as its files take it: the kept articles,
    rejections and removed lines as JSONL, the kept articles' fingerprints, and each
    step's tally."""

    articles: bytes
    rejections: bytes
    removed: bytes
    docs: list[Doc]
    clean: Tally
    sign: Tally


@dataclass(frozen=True)
class CleanPass:
    """The clean pass's steps over one chunk, with the stage's settings (picklable, for a
    pool of processes)."""

    context: CleanContext
    night: str
    config: DedupConfig

    def __call__(self, records: list[dict]) -> CleanPassResult:
        cleaned = clean_step(records, self.context)
        with timed(cleaned.tally):
            articles = dump_lines(cleaned.kept)
        docs, signed = sign_step(cleaned.kept, self.night, self.config)
        return CleanPassResult(articles, cleaned.rejections, cleaned.removed, docs, cleaned.tally, signed)


def clean_and_sign(repaired: Path, context: CleanContext, night: str, config: DedupConfig, paths: CleanPaths,
                   processes: int = 1, advance: Advance = _ignore) -> tuple[StageStats, StageStats]:
    """Take a shard's repaired articles through the clean pass, chunk by chunk (with
    ``processes``), writing both stages' files once; ``advance(n)`` after each chunk of n
    articles. Returns the clean stage's and the sign stage's stats."""
    cleaned, signed = Tally.of(CLEAN_COUNTS), Tally.of(["articles"])
    with ExitStack() as stack:
        out = {name: stack.enter_context(atomic_writer(getattr(paths, name)))
               for name in ("articles", "rejected", "removed")}
        docs = stack.enter_context(DocsWriter(paths.docs, config.num_perm))
        for result in run_stream(CleanPass(context, night, config), batches(read_jsonl(repaired)), processes,
                                 advance):
            with timed(cleaned):
                for name, part in (("articles", result.articles), ("rejected", result.rejections),
                                   ("removed", result.removed)):
                    out[name].write(part)
            with timed(signed):
                for doc in result.docs:
                    doc.rank = signed.counts["articles"]  # positions in the shard, whatever the chunking
                    signed.counts["articles"] += 1
                docs.add(result.docs)
            cleaned.add(result.clean)
            signed.seconds += result.sign.seconds
        with timed(signed):
            docs.finish()
    kept, rejected = cleaned.counts["kept"], cleaned.counts["rejected"]
    clean = StageStats({"articles_in": kept + rejected, "articles_out": kept, "rejected": rejected,
                        "lines_removed": dict(sorted(cleaned.kinds.items()))}, cleaned.seconds)
    sign = StageStats(dict(signed.counts), signed.seconds)
    sign.write(paths.sign_stats)
    clean.write(paths.stats)
    return clean, sign
