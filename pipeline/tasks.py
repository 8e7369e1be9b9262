"""The nightly Luigi chain, read top to bottom as the data's path.

    RawNight(date)                      the scraper's folder RAW_DIR/YYYY-MM-DD
      -> ReadFile(date, shard)          split into articles         stages/1-read/
                                        then encoding repair (ftfy) stages/2-repair/
      -> CountSiteLines(date)           lines repeated on a site    stages/3-site-lines/
      -> CleanFile(date, shard)         boilerplate removal         stages/3-clean/
                                        then shingles + MinHash     stages/4-sign/
      -> GatherRemoved(date)            removed lines, rejections   stages/3-removed/
      -> Deduplicate(date)              exact + near duplicates     stages/5-dedup/
      -> WriteOutputs(date)             the night's outputs         OUT_DIR/YYYY-MM-DD/
         beside CommitHistory(date)     tonight's kept articles     STATE_DIR/history/
      -> CleanCorpus(date)              both done: the night is done

Per-file stages run one task per shard: a large dump is a shard of its own, small
files are grouped (``shard_bytes``, ``shard_files``), so several workers can share a
night without paying Luigi's per-task cost thousands of times. Tasks only move records
between files; the text work is done by the plain functions they call.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import gc
import logging
import shutil
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import luigi
import orjson

from pipeline import repair as encoding
from pipeline.clean import boilerplate, sitelines
from pipeline.clean.rules import RulesError, load_rules
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc, Match
from pipeline.dedup.fingerprint import load_kernels, make_docs
from pipeline.dedup.history import (
    REBUILD_HINT,
    CommitInfo,
    HistoryDamaged,
    Superseded,
    gaps_between,
    open_history,
    site_line_sanity,
    window_digest,
    window_problems,
)
from pipeline.dedup.policy import deduplicate, priority
from pipeline.io.arrays import DocsWriter, load_docs
from pipeline.io.jsonl import (
    WRITE_BATCH,
    OutputError,
    atomic_writer,
    dump_lines,
    dumps,
    place_file,
    read_json,
    read_jsonl,
    write_bytes,
    write_json,
    write_jsonl,
)
from pipeline.io.parallel import MAX_CHUNK, batches, run_stream, tune_malloc
from pipeline.operate import checks, retention
from pipeline.operate.exits import Exit, refuse
from pipeline.read import readers
from pipeline.records import Article, Rejection
from pipeline.report import html as htmlreport
from pipeline.report.nightdata import NIGHT_RE, Night, top_removed
from pipeline.report.summary import build_report, summary_line
from pipeline.settings import (
    apply_defaults,
    dedup_config,
    history_since,
    night_paths,
    pipeline,
    rules_path,
)
from pipeline.text import site_of

__all__ = ["CleanCorpus", "pipeline"]

logger = logging.getLogger("luigi-interface")
# Seconds between progress reports of a running task (log line, luigid status).
PROGRESS_EVERY = 5.0


def write_stats(target: luigi.LocalTarget, counts: dict[str, Any], started: float | None = None,
                seconds: float | None = None, **extra: Any) -> None:
    """A task's ``stats.json``: what it counted and how long it took (the report's source):
    ``seconds``, or the time since ``started``; ``extra``: more about the task (its files)."""
    if seconds is None:
        seconds = time.perf_counter() - started
    write_json(target.path, {"counts": counts, "seconds": round(seconds, 3), **extra})


class Progress:
    """Reports a task's progress to Luigi (percentage, status message) and the log."""

    def __init__(self, task: luigi.Task, total: int, label: str) -> None:
        self.task, self.total, self.label = task, max(total, 1), label
        self.done = 0
        self.last = time.monotonic()
        self._report()

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY or self.done >= self.total:
            self.last = now
            self._report()

    def _report(self) -> None:
        message = f"{self.task.task_id}: {self.label} {self.done}/{self.total}"
        # The worker sets these callbacks on the task it runs (None outside a worker).
        if self.task.set_progress_percentage:
            self.task.set_progress_percentage(min(100, round(100 * self.done / self.total)))
        if self.task.set_status_message:
            self.task.set_status_message(message)
        logger.info(message)


class NightParameter(luigi.DateParameter):
    """A night, ``YYYY-MM-DD``; anything else stops the run with one line (exit code 2)."""

    def parse(self, s: str) -> dt.date:
        try:
            return super().parse(s)
        except ValueError:
            refuse(Exit.USAGE, f"--date {s!r}: not a night YYYY-MM-DD")


class RawNight(luigi.ExternalTask):
    """A night's raw folder, written by the scraper. A night folder that is a symbolic link
    is not followed (the night is missing): its files could be anywhere, another night's
    included. ``raw_dir`` itself may be a link."""

    date = NightParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(night_paths(self.date).raw))

    def complete(self) -> bool:
        return is_raw_night(night_paths(self.date).raw)


def is_raw_night(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


@RawNight.event_handler(luigi.Event.DEPENDENCY_MISSING)
def _raw_night_missing(task: RawNight) -> None:
    path = Path(task.output().path)
    what = "is a symbolic link, not followed" if path.is_symlink() else "does not exist"
    logger.error("night %s: no raw folder: %s %s (raw_dir = %s)", task.date, path.absolute(), what,
                 pipeline().raw_dir)


def raw_nights() -> set[str]:
    """The nights that have a raw folder."""
    raw_dir = Path(pipeline().raw_dir)
    if not raw_dir.is_dir():
        return set()
    return {p.name for p in raw_dir.iterdir() if NIGHT_RE.match(p.name) and is_raw_night(p)}


def out_nights() -> set[str]:
    """The nights that have an output folder (finished or not)."""
    out_dir = Path(pipeline().out_dir)
    return {p.name for p in out_dir.iterdir() if NIGHT_RE.match(p.name) and p.is_dir()} if out_dir.is_dir() else set()


def _prepare_before_forking() -> None:
    """Load the rules and the compiled loops once in the scheduling process: the
    process Luigi forks for each task inherits them instead of preparing them again
    (65 ms for the rules' patterns, about 0.1 s for each of numba's loops). A broken
    rules file is reported by the tasks that use it."""
    try:
        load_rules(rules_path())
    except RulesError:
        pass
    load_kernels()
    sitelines.load_kernels()
    # What was just loaded joins the libraries in the collector's permanent generation
    # (see gc.freeze() at the end of this module).
    gc.freeze()


def one_at_a_time(run: Callable[["NightTask"], None]) -> Callable[["NightTask"], None]:
    """A task's run, done by one process at a time: two runs of a night at once (another
    command line, another machine without a shared scheduler) would otherwise write the
    same outputs side by side, and one replace a folder the other reads. The second waits
    for the first, then finds the task done and leaves it (a lock file per task, under
    ``state_dir/locks/``)."""

    @functools.wraps(run)
    def locked(self: "NightTask") -> None:
        path = Path(pipeline().state_dir) / "locks" / self.paths.date / f"{self.task_id}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+b")
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if self.complete():
                logger.info("%s: done meanwhile by another run of the night", self.task_id)
                return
            run(self)

    return locked


class NightTask(luigi.Task):
    """A task about one night."""

    date = NightParameter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        checks.settings_sound()  # the settings, rules and Redis, once per process

    @functools.cached_property
    def paths(self):
        return night_paths(self.date)

    def plan(self) -> tuple[list[readers.Shard], list[Rejection]]:
        """The night's shards, planned once per task instance (late files wait for a rerun)."""
        if not hasattr(self, "_plan"):
            cfg = pipeline()
            raw = self.paths.raw
            self._plan = readers.plan_night(raw, cfg.shard_bytes, cfg.shard_files) if raw.is_dir() else ([], [])
            _prepare_before_forking()
        return self._plan

    def earlier_commits(self, nights: Iterable[dt.date]) -> list["CommitHistory"]:
        """The history commits of earlier nights, as this night's dependencies (nights
        without a raw folder are gaps: nothing to wait for)."""
        present = raw_nights()
        return [CommitHistory(date=d) for d in nights if d < self.date and d.isoformat() in present]

    def shard_tasks(self, task_class: type["ShardTask"]) -> list["ShardTask"]:
        return [task_class(date=self.date, shard=s.index, digest=s.digest) for s in self.plan()[0]]


class ShardTask(NightTask):
    """A per-file stage over one shard of the night's files (one file, or several small ones).

    Writes ``stages/<stage>/shard-NNNNN.{articles.jsonl,rejected.jsonl,stats.json}``.
    """

    shard = luigi.IntParameter()
    # The shard's file list is the night's plan's, not a parameter: a parameter is in
    # every log line and luigid row of the task, and a shard may hold thousands of files.
    digest = luigi.Parameter(description="the shard's files and sizes, hashed (readers.Shard.digest)")
    stage_dir: str = ""
    parts = {"articles": "articles.jsonl", "rejected": "rejected.jsonl", "stats": "stats.json"}

    @functools.cached_property
    def planned(self) -> readers.Shard:
        """This task's shard of the night's plan; the plan must still be the one that named
        the task (files changed in between make another shard, another task)."""
        shard = next((s for s in self.plan()[0] if s.index == self.shard), None)
        if shard is None or shard.digest != self.digest:
            raise RuntimeError(f"{self.paths.raw}: the night's files changed since this run planned shard "
                               f"{self.shard} ({self.digest}); run the night again")
        return shard

    @property
    def files(self) -> tuple[str, ...]:
        return self.planned.files

    @property
    def shard_name(self) -> str:
        return readers.Shard.name_of(self.shard)

    def output(self) -> dict[str, luigi.LocalTarget]:
        return self.stage_targets(self.stage_dir, self.parts)

    def stage_targets(self, stage_dir: str, parts: dict[str, str]) -> dict[str, luigi.LocalTarget]:
        """This shard's files of a stage: ``stages/<stage_dir>/<shard>.<suffix>`` by part name."""
        return {
            name: luigi.LocalTarget(str(self.paths.stage_file(stage_dir, self.shard_name, suffix)))
            for name, suffix in parts.items()
        }

    def upstream(self, task_class: type["ShardTask"]) -> "ShardTask":
        return task_class(date=self.date, shard=self.shard, digest=self.digest)

    def _report(self, counts: dict) -> None:
        if self.set_status_message:
            self.set_status_message(f"{self.shard_name} ({len(self.files)} files): {counts}")


class ReadFile(ShardTask):
    """Split raw files into articles (decoding bytes on the way), then repair encoding
    damage in them (``stages/2-repair/``) and fingerprint their lines per site, for
    CountSiteLines (done here so that it runs in parallel, shard by shard).

    One task for the two stages: the articles are repaired as read, in memory, instead
    of a second task reading the read stage's files back.
    """

    stage_dir = "1-read"
    repair_dir = "2-repair"
    repair_parts = {"repaired": "articles.jsonl", "repair_rejected": "rejected.jsonl",
                    "sitepages": "sitepages.jsonl", "repair_stats": "stats.json"}

    def output(self) -> dict[str, luigi.LocalTarget]:
        return {**super().output(), **self.stage_targets(self.repair_dir, self.repair_parts)}

    def requires(self) -> RawNight:
        return RawNight(self.date)

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        shard = self.planned
        logger.info("%s: %d files, %d bytes: %s", self.task_id, len(shard.files), sum(shard.sizes),
                    shard.files[0] if len(shard.files) == 1 else f"{shard.files[0]} ... {shard.files[-1]}")
        rules = load_rules(rules_path())
        progress = Progress(self, len(shard.files), "files read and repaired")
        out = self.output()
        counts: Counter = Counter(files=len(shard.files), articles=0, rejected=0)
        repair: Counter = Counter(articles=0, repaired=0)
        fixes: Counter = Counter()
        repair_seconds = 0.0
        with ExitStack() as stack:
            files = {name: stack.enter_context(atomic_writer(out[name].path))
                     for name in ("articles", "rejected", "repaired", "repair_rejected", "sitepages")}

            def read_chunks() -> Iterator[list[dict]]:
                """The shard's articles as they are read, in chunks; their read-stage lines
                and the rejections are written on the way."""
                records = []
                for rel in shard.files:
                    for item in readers.iter_file(self.paths.raw, rel, self.paths.date,
                                                  rules.for_source(None, rel)[0]):
                        if isinstance(item, Rejection):
                            files["rejected"].write(dumps(item.to_dict()))
                            counts["rejected"] += 1
                            continue
                        records.append(item.to_dict())
                        if len(records) == MAX_CHUNK:
                            files["articles"].write(dump_lines(records))  # before the repair changes them
                            yield records
                            records = []
                    progress.advance()
                if records:
                    files["articles"].write(dump_lines(records))
                    yield records

            for result in run_stream(_repair_and_fingerprint, read_chunks(), pipeline().processes):
                files["repaired"].write(result["lines"])
                files["sitepages"].write(result["pages"])
                counts["articles"] += result["articles"]
                repair.update(articles=result["articles"], repaired=result["repaired"])
                fixes.update(result["fixes"])
                repair_seconds += result["seconds"]
        write_stats(out["repair_stats"], {**repair, "fixes": dict(sorted(fixes.items()))}, seconds=repair_seconds)
        write_stats(out["stats"], dict(counts), seconds=max(0.0, time.perf_counter() - started - repair_seconds),
                    files=[{"file": f, "bytes": size} for f, size in zip(shard.files, shard.sizes)])
        self._report(counts)


def _repair_and_fingerprint(records: list[dict]) -> dict[str, Any]:
    """A chunk of records repaired (as JSONL), each page's site and line keys (for
    CountSiteLines, as JSONL), the counts and the seconds it took."""
    started = time.perf_counter()
    repaired = encoding.repair_records(records)
    pages = []
    hashes_of_texts = sitelines.line_hashes_of_texts([record["text"] for record in repaired])
    for record, hashes in zip(repaired, hashes_of_texts):
        page = sitelines.page_keys(record["text"].split("\n"), hashes)
        if page is not None:
            pages.append([site_of(record.get("url"), record["source"]["file"]), *page])
    return {
        "lines": dump_lines(repaired),
        "pages": dump_lines(pages),
        "articles": len(repaired),
        "repaired": sum(r["fixes"]["encoding"]["repaired"] for r in repaired),
        "fixes": Counter(f for r in repaired for f in r["fixes"]["encoding"]["fixes"]),
        "seconds": time.perf_counter() - started,
    }


class CountSiteLines(NightTask):
    """Count, per site, on how many pages each line appears: tonight and recent nights.

    Tonight's counts are also saved under state_dir/site_lines/, for later nights; the
    recent nights' counts are read from there once their nights are committed (a Luigi
    dependency), so nights run in any order count the same.
    """

    def requires(self) -> dict[str, Any]:
        if not self.paths.raw.is_dir():
            return {"raw": RawNight(self.date)}
        earlier = self.earlier_commits(self.recent_nights())
        checks.history_sound(self.paths.date, site_nights=[t.paths.date for t in earlier if t.complete()])
        return {"shards": self.shard_tasks(ReadFile), "earlier": earlier}

    def recent_nights(self) -> list[dt.date]:
        settings = load_rules(rules_path()).site_lines
        return [self.date - dt.timedelta(days=days) for days in range(1, settings.recent_nights + 1)]

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "3-site-lines"
        return {
            "lines": luigi.LocalTarget(str(stage / "site_lines.json")),
            "stats": luigi.LocalTarget(str(stage / "stats.json")),
            "state": luigi.LocalTarget(str(site_lines_state(self.paths.date))),
        }

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        settings = load_rules(rules_path()).site_lines
        tonight = sitelines.SiteCounts()
        for target in self.input()["shards"]:  # shards in input order, pages in input order
            for site, story, keys in read_jsonl(target["sitepages"].path):
                tonight.add_page(site, story, keys)
        saved = tonight.to_json()
        out = self.output()
        counts = sitelines.SiteCounts()
        counts.merge(saved)
        earlier = []
        for night in (d.isoformat() for d in self.recent_nights()):
            path = site_lines_state(night)
            if path.exists():
                problems = site_line_sanity(path)
                if problems:
                    raise HistoryDamaged(f"{problems[0]}; {REBUILD_HINT}")
                counts.merge(read_json(path))
                earlier.append(night)
        boilerplate = counts.boilerplate(settings) if settings.enabled else {}
        write_json(out["lines"].path, {
            "nights": [self.paths.date] + earlier,
            "pages": dict(sorted(counts.pages.items())),
            "boilerplate": {site: sorted(keys) for site, keys in sorted(boilerplate.items())},
        })
        stats = {"sites": len(counts.pages), "sites_with_boilerplate": len(boilerplate),
                 "boilerplate_lines": sum(len(keys) for keys in boilerplate.values())}
        write_stats(out["stats"], stats, started)
        write_json(out["state"].path, saved)


def site_lines_state(night: str) -> Path:
    """A night's site-line counts, kept for later nights."""
    return Path(pipeline().state_dir) / "site_lines" / f"{night}.json"


class CleanFile(ShardTask):
    """Remove boilerplate (every removed line is kept in `removed`), then fingerprint the
    clean articles for dedup: words, shingles, MinHash signatures (``stages/4-sign/``).

    One task for the two stages: the fingerprints are made from the records just
    cleaned, in memory, instead of a second task reading the clean stage's files back.
    """

    stage_dir = "3-clean"
    parts = {**ShardTask.parts, "removed": "removed.jsonl"}
    sign_dir = "4-sign"
    sign_parts = {"docs": "docs", "sign_stats": "stats.json"}

    def output(self) -> dict[str, luigi.LocalTarget]:
        return {**super().output(), **self.stage_targets(self.sign_dir, self.sign_parts)}

    def requires(self) -> dict[str, luigi.Task]:
        return {"articles": self.upstream(ReadFile), "site_lines": CountSiteLines(date=self.date)}

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        site_lines = read_json(self.input()["site_lines"]["lines"].path)
        context = boilerplate.CleanContext(
            config=load_rules(rules_path()),
            site_boilerplate={site: {int(key, 16) for key in keys} for site, keys in site_lines["boilerplate"].items()},
            min_words=pipeline().min_words,
        )
        config = dedup_config()
        repaired = self.input()["articles"]
        total = read_json(repaired["repair_stats"].path)["counts"]["articles"]
        progress = Progress(self, total, "articles cleaned")
        work = functools.partial(_clean_and_sign_chunk, context=context, night=self.paths.date, config=config)
        out = self.output()
        rules: Counter = Counter()
        kept = rejected = 0
        sign_seconds = 0.0
        with ExitStack() as stack:
            files = {name: stack.enter_context(atomic_writer(out[name].path)) for name in ("articles", "rejected", "removed")}
            docs = stack.enter_context(DocsWriter(Path(out["docs"].path), config.num_perm))
            chunks = batches(read_jsonl(repaired["repaired"].path))
            for result in run_stream(work, chunks, pipeline().processes, progress.advance):
                for name, part in (("articles", "lines"), ("rejected", "rejections"), ("removed", "removed")):
                    files[name].write(result[part])
                signed = time.perf_counter()
                for doc in result["docs"]:
                    doc.rank = kept  # positions in the shard, whatever the chunking
                    kept += 1
                docs.add(result["docs"])
                sign_seconds += result["sign_seconds"] + time.perf_counter() - signed
                rejected += result["rejected"]
                rules.update(result["rules"])
            signed = time.perf_counter()
            docs.finish()
            sign_seconds += time.perf_counter() - signed
        write_stats(out["sign_stats"], {"articles": kept}, seconds=sign_seconds)
        counts = {
            "articles_in": kept + rejected,
            "articles_out": kept,
            "rejected": rejected,
            "lines_removed": dict(sorted(rules.items())),
        }
        write_stats(out["stats"], counts, seconds=max(0.0, time.perf_counter() - started - sign_seconds))
        self._report(counts)


def _clean_and_sign_chunk(records: list[dict], context: boilerplate.CleanContext, night: str,
                          config: DedupConfig) -> dict[str, Any]:
    """A chunk cleaned: the kept records, rejection records and removed-line records (as
    JSONL), the counts, and the kept articles' fingerprints (dedup's ``Doc``)."""
    kept, rejections, removed = [], [], []
    for record, removals, rejection in boilerplate.clean_records(records, context):
        removed.extend(
            {"id": record["id"], "file": record["source"]["file"], "line": removal.line,
             "rule": removal.rule, "text": removal.text}
            for removal in removals
        )
        if rejection is None:
            kept.append(record)
        else:
            rejections.append(rejection.to_dict())
    signed = time.perf_counter()
    docs = make_docs([
        {"key": f"{night}/{Article.key_of(r['source'])}", "id": r["id"], "text": r["text"], "title": r["title"],
         "published": r["published"]}
        for r in kept
    ], night=night, config=config)
    return {
        "lines": dump_lines(kept),
        "rejections": dump_lines(rejections),
        "removed": dump_lines(removed),
        "kept": len(kept),
        "rejected": len(rejections),
        "rules": Counter(r["rule"] for r in removed),
        "docs": docs,
        "sign_seconds": time.perf_counter() - signed,
    }


class Deduplicate(NightTask):
    """Exact and near-duplicate decisions for the whole night, against the night and the
    history of the nights before it in its window, which must be committed first (a
    Luigi dependency on their CommitHistory) and complete and intact (checked before the
    night is scheduled, and again before the history is read)."""

    def requires(self) -> dict[str, Any]:
        if not self.paths.raw.is_dir():
            return {"raw": RawNight(self.date)}
        earlier = self.earlier_commits(self.window_nights())
        self.check_history()
        return {"sign": self.shard_tasks(CleanFile), "earlier": earlier}

    def check_history(self) -> None:
        """Stop the run (exit 11) unless the history is sound for this night's window."""
        checks.history_sound(self.paths.date, window=(history_since(self.date), self.committed_window()))

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "5-dedup"
        return {
            "decisions": luigi.LocalTarget(str(stage / "decisions.jsonl")),
            "stats": luigi.LocalTarget(str(stage / "stats.json")),
        }

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        config = dedup_config()
        night = self.paths.date
        since = history_since(self.date)
        docs = _night_docs(self.input()["sign"], night)
        cfg = pipeline()
        history = open_history(cfg.state_dir, cfg.index_url, config)
        try:
            problems = [p for p in window_problems(history, night, (since, self.committed_window())) if not p.warning]
            if problems:
                raise HistoryDamaged(str(problems[0]))
            committed = history.nights()
            if self.set_status_message:
                self.set_status_message(f"looking up {len(docs)} articles in the history")
            earlier = history.candidates(docs, night, since)
        finally:
            history.close()
        result = deduplicate(docs, config, history=lambda d: earlier.get(d.key, ()))
        decisions = []
        for doc in docs:
            match = result.dropped.get(doc.key)
            decisions.append({"key": doc.key, "id": doc.id, "night": night, "status": "kept"} if match is None
                             else _decision(doc, "duplicate", match))
        decisions.extend(_decision(doc, "superseded", match) for doc, match in result.superseded)
        methods = Counter(m.method for m in result.dropped.values())
        known = set(committed) | raw_nights() | out_nights()
        first = max(filter(None, [since, min(known, default=None)]), default=None)
        counts = {
            "articles_in": len(docs),
            "kept": len(result.kept),
            "duplicates": {"exact": methods["exact"], "minhash": methods["minhash"]},
            "of_earlier_nights": sum(m.dup_of.night != night for m in result.dropped.values()),
            "superseded": len(result.superseded),
            "history_candidates": len({d.key for found in earlier.values() for d in found}),
            "threshold": config.threshold,
            "num_perm": config.num_perm,
            "shingle_size": config.shingle_size,
            "bands": config.bands,
            "rows": config.rows,
            "keep": config.keep,
            "history": "redis" if cfg.index_url else "files",
            "history_since": since,
        }
        out = self.output()
        write_jsonl(out["decisions"].path, decisions)
        write_stats(out["stats"], counts, started, compared_with=window_digest(committed, night, since),
                    gaps=gaps_between(first, night, set(committed)))

    def window_nights(self) -> list[dt.date]:
        """The nights before this one that its window covers, as far back as any is known."""
        since = history_since(self.date)
        known = sorted(d for d in raw_nights() | out_nights() if d < self.paths.date and (since is None or d >= since))
        return [dt.date.fromisoformat(d) for d in known]

    def committed_window(self) -> set[str]:
        """The nights of the window whose history commit is done: the history must list them."""
        return {d.isoformat() for d in self.window_nights() if CommitHistory(date=d).complete()}


def _night_docs(sign_outputs: list[dict[str, luigi.LocalTarget]], night: str) -> list[Doc]:
    """The night's fingerprinted articles, shard after shard, ranked in that order."""
    docs = [doc for target in sign_outputs for doc in load_docs(target["docs"].path, night)]
    for rank, doc in enumerate(docs):
        doc.rank = rank
    return docs


class CommitHistory(NightTask):
    """Make tonight's kept articles the night's entries in the history, for later nights.

    A task of its own, after the decisions are written, so that with several workers it
    runs beside the final write. A crash before it ends leaves the night unfinished
    (CleanCorpus requires it), and the rerun commits again: a commit replaces the
    night's own entries, and Deduplicate never looks tonight up in tonight's entries.
    """

    def requires(self) -> dict[str, Any]:
        if not self.paths.raw.is_dir():
            return {"raw": RawNight(self.date)}
        return {"dedup": Deduplicate(date=self.date), "sign": self.shard_tasks(CleanFile),
                "site_lines": CountSiteLines(date=self.date)}

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.paths.stages / "5-dedup" / "history.stats.json"))

    def complete(self) -> bool:
        if super().complete():
            return True
        # A night finished before the commit was a task of its own: Deduplicate committed
        # the history before writing its decisions, so the finished night (report.json
        # written) is committed. Such a night has no stages/3-removed/, which every later
        # night writes before its report.
        return (self.paths.out / "report.json").is_file() and not (self.paths.stages / "3-removed").exists()

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        config = dedup_config()
        night = self.paths.date
        status = {d["key"]: d for d in read_jsonl(self.input()["dedup"]["decisions"].path)}
        dedup_stats = read_json(self.input()["dedup"]["stats"].path)
        docs = _night_docs(self.input()["sign"], night)
        # The order dedup visited them in (its keep policy's), as it listed them.
        kept = sorted((d for d in docs if status[d.key]["status"] == "kept"), key=priority(config.keep))
        superseded = [
            Superseded(d["night"], d["key"], d["dup_of_key"]) for d in status.values() if d["status"] == "superseded"
        ]
        info = CommitInfo(compared_with=dedup_stats.get("compared_with"), gaps=dedup_stats.get("gaps"),
                          site_lines=Path(self.input()["site_lines"]["state"].path))
        cfg = pipeline()
        history = open_history(cfg.state_dir, cfg.index_url, config)
        try:
            history.commit(night, kept, superseded, info)
        finally:
            history.close()
        counts = {"kept": len(kept), "superseded": len(superseded), "history": "redis" if cfg.index_url else "files"}
        write_stats(self.output(), counts, started)


def _decision(doc: Doc, status: str, match: Match) -> dict[str, Any]:
    return {
        "key": doc.key, "id": doc.id, "night": doc.night, "status": status,
        "dup_of": match.dup_of.id, "dup_of_key": match.dup_of.key, "dup_of_night": match.dup_of.night,
        "similarity": match.similarity, "method": match.method, "title": doc.title,
    }


class CleanCorpus(NightTask):
    """The night, done: its outputs written (WriteOutputs) and its kept articles in the
    history for later nights (CommitHistory). The two run side by side with several
    workers; the night counts as done only when both are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        checks.before_any_work()  # the night is about to be scheduled: the scheduler too

    def requires(self) -> dict[str, luigi.Task]:
        if is_raw_night(self.paths.raw):
            checks.same_settings_as_started(self.paths.stages, self.paths.date)
        return {"outputs": WriteOutputs(date=self.date), "history": CommitHistory(date=self.date)}

    def output(self) -> dict[str, luigi.LocalTarget]:
        return WriteOutputs(date=self.date).output()

    def complete(self) -> bool:
        # Outputs written but the commit interrupted: not done (the rerun commits).
        return super().complete() and CommitHistory(date=self.date).complete()

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """For ``RangeDaily --of CleanCorpus`` (tasks/backfill.sh): the nights done, by
        :meth:`complete` (Luigi would otherwise look at the output files only)."""
        return [date for date in parameter_tuples if cls(date=date).complete()]

    def run(self) -> None:
        """The required tasks wrote the night: say so in one line, then prune the stages of
        nights older than the last ``keep_stages`` (see ``retention``)."""
        logger.info(self.summary())
        pruned = retention.prune_old_nights(Path(pipeline().out_dir), pipeline().keep_stages,
                                            lambda night: CleanCorpus(date=dt.date.fromisoformat(night)).complete())
        for night, removed in pruned.items():
            shutil.rmtree(Path(pipeline().state_dir) / "locks" / night, ignore_errors=True)  # a finished night's
            logger.info("night %s: stages/ pruned (%d bytes removed; keep_stages = %d)", night, removed,
                        pipeline().keep_stages)

    def summary(self, done_before: bool = False) -> str:
        html = self.output()["report_html"].path
        return summary_line(read_json(self.output()["report_json"].path), html, done_before)


@CleanCorpus.event_handler(luigi.Event.DEPENDENCY_PRESENT)
def _night_already_done(task: CleanCorpus) -> None:
    logger.info(task.summary(done_before=True))
    started = checks.settings_started(task.paths.stages)
    if started is not None and started != checks.run_settings():
        logger.warning("night %s was done with other settings than these; python -m pipeline rerun %s applies "
                       "them", task.paths.date, task.paths.date)


class GatherRemoved(NightTask):
    """The night's removed lines and rejected input, gathered from the shards once the
    clean stage is done (with several workers, beside Deduplicate):
    ``removed.jsonl`` and ``rejected.jsonl`` as WriteOutputs places them in the outputs,
    and the most removed lines per rule for the report."""

    def requires(self) -> dict[str, Any]:
        if not self.paths.raw.is_dir():
            return {"raw": RawNight(self.date)}
        return {"read": self.shard_tasks(ReadFile), "clean": self.shard_tasks(CleanFile)}

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "3-removed"
        return {name: luigi.LocalTarget(str(stage / f"{name}.{suffix}"))
                for name, suffix in (("removed", "jsonl"), ("rejected", "jsonl"), ("top_removed", "json"))}

    @one_at_a_time
    def run(self) -> None:
        inputs, out = self.input(), self.output()
        rejected = [r.to_dict() for r in self.plan()[1]]
        for stage in ("read", "clean"):
            for target in inputs[stage]:
                rejected.extend(read_jsonl(target["rejected"].path))
        rejected.sort(key=_rejection_order)
        write_jsonl(out["rejected"].path, rejected)
        # The shards' removed lines, as they are (their order is the night's), read once.
        removed = [Path(target["removed"].path).read_bytes() for target in inputs["clean"]]
        write_bytes(out["removed"].path, removed)
        write_json(out["top_removed"].path, top_removed(
            orjson.loads(line) for part in removed for line in part.splitlines() if line.strip()))


class WriteOutputs(NightTask):
    """The night's outputs: articles, duplicates, rejected, removed lines, report."""

    def requires(self) -> dict[str, Any]:
        deps: dict[str, Any] = {"dedup": Deduplicate(date=self.date), "site_lines": CountSiteLines(date=self.date),
                                "removed": GatherRemoved(date=self.date)}
        if self.paths.raw.is_dir():
            for stage, task_class in (("read", ReadFile), ("clean", CleanFile)):
                deps[stage] = self.shard_tasks(task_class)
        return deps

    def output(self) -> dict[str, luigi.LocalTarget]:
        out = self.paths.out
        names = ("articles.jsonl", "duplicates.jsonl", "rejected.jsonl", "removed.jsonl", "report.json",
                 "report.html")
        return {name.replace(".", "_"): luigi.LocalTarget(str(out / name)) for name in names}

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        inputs = self.input()
        shards, listing_rejections = self.plan()
        decisions = list(read_jsonl(inputs["dedup"]["decisions"].path))
        duplicates: list[dict[str, Any]] = []
        out = self.output()
        # The report's duplicate groups show some of tonight's articles: they are picked
        # up on the way instead of searched for in the files afterwards.
        shown = htmlreport.articles_shown([_duplicate_record(d, None) for d in decisions if d["status"] != "kept"])
        kept = _KeptLines([target["articles"].path for target in inputs["clean"]], decisions, duplicates,
                          shown.get(self.paths.date, set()))
        write_bytes(out["articles_jsonl"].path, kept)
        articles_out = kept.count
        # Earlier nights' articles superseded by tonight's (keep policy latest/longest).
        duplicates.extend(_duplicate_record(d, None) for d in decisions if d["status"] == "superseded")

        gathered = inputs["removed"]
        rejected = list(read_jsonl(gathered["rejected"].path))

        stats = {stage: [read_json(t["stats"].path) for t in inputs[stage]] for stage in ("read", "clean")}
        stats["repair"] = [read_json(t["repair_stats"].path) for t in inputs["read"]]
        stats["sign"] = [read_json(t["sign_stats"].path) for t in inputs["clean"]]
        stats["dedup"] = [read_json(inputs["dedup"]["stats"].path)]
        stats["site_lines"] = [read_json(inputs["site_lines"]["stats"].path)]
        write_jsonl(out["duplicates_jsonl"].path, duplicates)
        place_file(gathered["rejected"].path, out["rejected_jsonl"].path)
        place_file(gathered["removed"].path, out["removed_jsonl"].path)
        inputs_manifest = [{"file": f, "bytes": size} for shard in shards for f, size in zip(shard.files, shard.sizes)]
        report = build_report(
            self.paths.date, inputs_manifest, stats, rejected, articles_out, time.perf_counter() - started
        )
        write_json(out["report_json"].path, report)
        # The page reads back what was just written, like anyone inspecting the night
        # (the records still in memory are handed over instead of parsed again).
        night_data = Night(self.paths.out, loaded={"duplicates": duplicates, "rejected": rejected},
                           found=kept.found, top_removed=read_json(gathered["top_removed"].path))
        with atomic_writer(out["report_html"].path) as handle:
            handle.write(htmlreport.render(night_data).encode("utf-8"))


class _KeptLines:
    """The kept articles' lines for ``articles.jsonl``, streamed shard by shard (a night's
    text is never in memory at once) and rewritten as bytes (``Article.output_line``);
    the duplicates' records are appended to ``duplicates`` on the way.

    Deduplicate decided on the clean stage's articles in this same order, so the n-th
    article is the n-th decision; each line's id is checked against its decision's.

    The articles whose ids are in ``wanted`` are collected in ``found`` as
    :meth:`Night.find` returns them: the kept version if there is one, else the first.
    """

    def __init__(self, paths: list[str], decisions: list[dict[str, Any]], duplicates: list[dict[str, Any]],
                 wanted: set[str] = frozenset()) -> None:
        self.paths, self.decisions, self.duplicates, self.wanted = paths, decisions, duplicates, wanted
        self.count = 0
        self.found: dict[str, dict[str, Any]] = {}

    def __iter__(self) -> Iterator[bytes]:
        position = 0
        for path in self.paths:
            batch: list[bytes] = []
            with open(path, "rb") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    decision = self.decisions[position] if position < len(self.decisions) else None
                    if decision is None or decision["status"] == "superseded" or not line.startswith(
                        b'{"id":' + orjson.dumps(decision["id"]) + b","
                    ):
                        raise RuntimeError(
                            f"{path}:{number}: the article is not the one Deduplicate decided on at position "
                            f"{position}; the stage files are out of step (rerun the night: --rerun)"
                        )
                    position += 1
                    if decision["status"] == "kept":
                        output = Article.output_line(line)
                        batch.append(output)
                        if decision["id"] in self.wanted:
                            self.found[decision["id"]] = orjson.loads(output)
                        if len(batch) == WRITE_BATCH:  # one write call per batch, as write_jsonl
                            self.count += len(batch)
                            yield b"".join(batch)
                            batch = []
                    else:
                        record = orjson.loads(line)
                        self.duplicates.append(_duplicate_record(decision, record["source"]))
                        if decision["id"] in self.wanted:
                            self.found.setdefault(decision["id"], record)
            self.count += len(batch)
            yield b"".join(batch)
        if any(d["status"] != "superseded" for d in self.decisions[position:]):
            raise RuntimeError(f"Deduplicate decided on {len(self.decisions)} articles, the clean stage has "
                               f"{position}; the stage files are out of step (rerun the night: --rerun)")


def _duplicate_record(decision: dict[str, Any], source: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": decision["id"], "title": decision["title"], "dup_of": decision["dup_of"],
        "dup_of_night": decision["dup_of_night"], "similarity": decision["similarity"],
        "method": decision["method"], "night": decision["night"],
        "superseded": decision["status"] == "superseded", "source": source,
    }


_STAGE_ORDER = {"list": 0, "read": 1, "repair": 2, "clean": 3}


def _rejection_order(record: dict) -> tuple:
    return (record["file"], _STAGE_ORDER.get(record["stage"], 9), record["line"] or 0, record["offset"] or 0)


# The Luigi entry point's one duty on import: the shipped settings, exit codes and log
# level take effect wherever `luigi --module pipeline.tasks` runs (see settings).
apply_defaults()
tune_malloc()
# With several workers Luigi forks a process per task. The garbage collector of each
# child would otherwise walk (and so copy, page by page) every object inherited from
# the parent: the libraries imported above. Frozen, they are left alone.
gc.freeze()
