"""The operator's commands around the nightly job: late files, reruns, backfills, and
checking and repairing the history (``python -m pipeline ...``, see ``__main__``).

Each command reads its settings exactly as the night does (the shipped defaults,
Luigi's configuration files, and the same ``--pipeline-...`` flags, applied before any
path is computed), touches only the nights it names, and ends with an exit code of
``exits.Exit``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import luigi
import luigi.configuration
import luigi.interface
import luigi.rpc
from luigi.cmdline_parser import CmdlineParser
from luigi.execution_summary import LuigiStatusCode

from pipeline import tasks
from pipeline.clean.rules import load_rules
from pipeline.clean.sitelines import SiteCounts
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.fingerprint import make_docs
from pipeline.dedup.history import (
    REBUILD_HINT,
    CommitInfo,
    History,
    HistoryDamaged,
    HistoryMismatch,
    Problem,
    RebuildSources,
    all_problems,
    later_dependents,
    open_history,
    rebuild,
    site_line_sanity,
    stale_nights,
)
from pipeline.dedup.history.files import checksum
from pipeline.dedup.night import kept_for_history, night_docs
from pipeline.dedup.policy import priority
from pipeline.io.jsonl import read_json, read_jsonl, write_bytes, write_json
from pipeline.operate import checks
from pipeline.operate.exits import Exit, refuse
from pipeline.operate.retention import SITE_COUNTS
from pipeline.read.files import list_night, raw_sum
from pipeline.records import Article
from pipeline.report.nightdata import NIGHT_RE
from pipeline.settings import (
    Settings,
    dedup_config,
    night_paths,
    raw_nights,
    rules_path,
    site_lines_path,
)
from pipeline.taskbase import night_finished

# Luigi's run status -> exit code (as `luigi` itself exits with [retcode]).
STATUS_EXIT = {
    LuigiStatusCode.SUCCESS: Exit.DONE,
    LuigiStatusCode.SUCCESS_WITH_RETRY: Exit.DONE,
    LuigiStatusCode.FAILED: Exit.TASK_FAILED,
    LuigiStatusCode.FAILED_AND_SCHEDULING_FAILED: Exit.TASK_FAILED,
    LuigiStatusCode.SCHEDULING_FAILED: Exit.SCHEDULING,
    LuigiStatusCode.NOT_RUN: Exit.NOT_RUN,
    LuigiStatusCode.MISSING_EXT: Exit.MISSING_RAW,
}


SCHEDULER_FLAGS = ("--local-scheduler", "--scheduler-host", "--scheduler-port", "--scheduler-url")
# [core] options that name a central scheduler (Luigi's names, and their spellings with _).
SCHEDULER_OPTIONS = ("scheduler_host", "scheduler_port", "scheduler_url", "default-scheduler-host",
                     "default-scheduler-port", "default-scheduler-url", "default_scheduler_host",
                     "default_scheduler_port", "default_scheduler_url")


def with_scheduler(flags: Sequence[str]) -> tuple[list[str], str]:
    """The command's Luigi flags with the scheduler it uses, and which that is: the one the
    flags or ``[core]`` name, else the local scheduler (no luigid needed).

    >>> with_scheduler(["--workers", "2"])[0]
    ['--workers', '2', '--local-scheduler']
    """
    flags = list(flags)
    if any(f == name or f.startswith(name + "=") for f in flags for name in SCHEDULER_FLAGS):
        chosen = "local" if "--local-scheduler" in flags else "central"
        return flags, f"the {chosen} scheduler (named on the command line)"
    config = luigi.configuration.get_config()
    named = [o for o in SCHEDULER_OPTIONS if config.has_option("core", o)]
    if named:
        return flags, f"the central scheduler of [core] {named[0]}"
    return [*flags, "--local-scheduler"], "the local scheduler (no [core] scheduler_host nor --scheduler-host)"


@contextmanager
def night_settings(flags: Sequence[str]) -> Iterator[None]:
    """Inside: the settings as the night would read them with these Luigi flags
    (``--pipeline-out-dir ...``, ``--workers 2``, ``--local-scheduler``); unknown flags
    stop the command (exit 2), as they stop ``luigi``."""
    with CmdlineParser.global_instance(["CleanCorpus", *flags]):
        yield


def run_nights(dates: Sequence[dt.date]) -> Exit:
    """Run CleanCorpus for these nights in one Luigi build (each night's dedup waits for
    the earlier nights it compares with, so they complete in order), with the command
    line's workers and scheduler; the exit code of the outcome."""
    if not dates:
        return Exit.DONE
    checks.before_any_work()
    no_lock = luigi.interface.core().no_lock
    waited = 0.0
    while True:
        try:
            result = luigi.build([tasks.CleanCorpus(date=d) for d in dates], detailed_summary=True, no_lock=no_lock)
        except luigi.interface.PidLockAlreadyTakenExit:
            return Exit.ALREADY_RUNNING
        no_lock = True  # this process holds Luigi's lock from the first build on
        if all(_finished(d) for d in dates):
            return Exit.DONE
        code = STATUS_EXIT.get(result.status, Exit.NOT_RUN)
        # With several clients on one scheduler (several machines), this client stops
        # when what is left of the nights is another client's to run: it waits for that
        # and looks again, so that each client ends when the nights are done, with
        # their outcome (a failure anywhere ends it too).
        if code not in (Exit.DONE, Exit.NOT_RUN) or waited >= OTHERS_PATIENCE or not _at_work_elsewhere(dates):
            return code if code != Exit.DONE else Exit.NOT_RUN
        time.sleep(OTHERS_WAIT)
        waited += OTHERS_WAIT


# Seconds between looks at the nights while other clients run their last tasks, and at
# most how long to wait for them.
OTHERS_WAIT = 2.0
OTHERS_PATIENCE = 3600.0


def _at_work_elsewhere(dates: Sequence[dt.date]) -> bool:
    """Whether the central scheduler has tasks of these nights running or waiting (for
    other clients): not when the scheduler is this process's own."""
    url = checks.scheduler_url()
    if url is None:
        return False
    scheduler = luigi.rpc.RemoteScheduler(url)
    days = {d.isoformat().replace("-", "_") for d in dates}
    return any(f"_{day}_" in task_id for status in ("RUNNING", "PENDING")
               for task_id in scheduler.task_list(status, "") for day in days)


def _finished(date: dt.date) -> bool:
    return tasks.CleanCorpus(date=date).complete()


# --- late files ----------------------------------------------------------------------------


def late_files(date: dt.date) -> tuple[list[tuple[str, str]], str | None]:
    """Raw files of a finished night that differ from what its run read: (file, how) for
    each file new since, changed (another size or checksum: any edit), or gone; or why
    there is nothing to compare (the night has not run). A night without a raw folder
    stops the command (exit 3)."""
    paths = night_paths(date)
    if not paths.raw.is_dir():
        refuse(Exit.MISSING_RAW, f"night {date}: no raw folder: {paths.raw.absolute()} does not exist "
                                 f"(raw_dir = {Settings().raw_dir})")
    report = paths.out / "report.json"
    if not report.exists():
        return [], f"{date} has not run yet (no {report})"
    read = {entry["file"]: entry for entry in read_json(report).get("inputs", [])}
    files, _ = list_night(paths.raw)
    late = []
    for name in sorted(set(files) | set(read)):
        entry = read.get(name)
        if entry is None:
            late.append((name, "new since the night ran"))
        elif name not in files:
            late.append((name, "gone since the night read it"))
        else:
            now = raw_sum(paths.raw, name)
            # Nights run by versions before the checksum was recorded compare by size.
            if now.bytes != entry["bytes"] or entry.get("xxh3", now.xxh3) != now.xxh3:
                late.append((name, "changed since the night read it"))
    return late, None


# --- reruns ----------------------------------------------------------------------------------


@dataclass
class Rerun:
    nights: list[dt.date]  # the night named, then the later ones asked for, in order
    moved: dict[str, Path]  # night -> where its previous outputs are kept
    stale: list[str]  # later nights whose window changed with the rerun (their duplicates are out of date)
    dependents: list[str]  # every later night that compared with the night


def rerun(date: dt.date, and_later: bool) -> tuple[Exit, Rerun]:
    """Redo a finished night: its outputs are moved to ``OUT_DIR/.DATE.previous`` (kept, so
    they can be compared or restored), then the night runs again and replaces its
    entries in the history. Later nights whose dedup compared with it are then out of
    date: listed, or rerun after it in order with ``and_later``."""
    history = open_night_history()
    try:
        committed = history.nights()
    finally:
        history.close()
    later = [dt.date.fromisoformat(d) for d in later_dependents(committed, date.isoformat())]
    nights = [date, *sorted(later)] if and_later else [date]
    tasks.Deduplicate(date=date).check_history()  # before anything is moved
    moved = {}
    for night in nights:
        paths = night_paths(night)
        previous = paths.out.with_name(f".{paths.out.name}.previous")
        if paths.out.exists():
            if night_finished(paths) or not previous.exists():
                shutil.rmtree(previous, ignore_errors=True)
                paths.out.rename(previous)
            else:  # what a failed rerun left: the outputs kept before it stay where they are
                shutil.rmtree(paths.out)
        if previous.exists():
            moved[night.isoformat()] = previous
    code = run_nights(nights)
    history = open_night_history()
    try:
        now_stale = {p.night for p in stale_nights(history.nights())}
    finally:
        history.close()
    return code, Rerun(nights, moved, [d.isoformat() for d in sorted(later) if d.isoformat() in now_stale],
                       [d.isoformat() for d in sorted(later)])


def _finished_out_nights() -> list[dt.date]:
    out_dir = Path(Settings().out_dir)
    if not out_dir.is_dir():
        return []
    dates = [dt.date.fromisoformat(p.name) for p in out_dir.iterdir()
             if NIGHT_RE.match(p.name) and (p / "report.json").is_file()]
    return sorted(dates)


# --- backfills -------------------------------------------------------------------------------


@dataclass
class Backfill:
    done: list[dt.date]  # finished before
    to_run: list[dt.date]
    missing: list[dt.date]  # no raw folder: gaps, skipped


def plan_backfill(first: dt.date, last: dt.date) -> Backfill:
    plan = Backfill([], [], [])
    present = raw_nights()
    day = first
    while day <= last:
        if _finished(day):
            plan.done.append(day)
        elif day.isoformat() in present:
            plan.to_run.append(day)
        else:
            plan.missing.append(day)
        day += dt.timedelta(days=1)
    return plan


def backfill(plan: Backfill) -> Exit:
    """Run the nights of the plan that are not done; exit 3 when all that could run did
    but some nights had no raw folder, 0 when none was missing."""
    code = run_nights(plan.to_run)
    if code == Exit.DONE and plan.missing:
        return Exit.MISSING_RAW
    return code


# --- the history --------------------------------------------------------------------------


class OutDirSources(RebuildSources):
    """A night's kept articles again, for ``history rebuild``: from its stage files (the
    sign stage's arrays and dedup's decisions: the very folder the commit wrote), else
    from its ``articles.jsonl`` and ``duplicates.jsonl``."""

    def __init__(self) -> None:
        self.out_dir = Path(Settings().out_dir)

    def finished_nights(self) -> list[str]:
        return [d.isoformat() for d in _finished_out_nights() if tasks.CommitHistory(date=d).complete()]

    def commit_info(self, night: str) -> CommitInfo:
        stats = self.out_dir / night / "stages" / "5-dedup" / "stats.json"
        recorded = read_json(stats) if stats.is_file() else {}
        return CommitInfo(compared_with=recorded.get("compared_with"), gaps=recorded.get("gaps"),
                          site_lines=site_lines_path(night))

    def kept_articles(self, night: str, config: DedupConfig, stages: bool = True):
        made = None
        if stages:
            try:
                made = self._from_stages(night, config)
            except (OSError, ValueError, KeyError):
                made = None
        if made is None:
            try:
                made = self._from_outputs(night, config)
            except (OSError, ValueError, KeyError):
                made = None
        return made

    def _from_stages(self, night: str, config: DedupConfig):
        stages = self.out_dir / night / "stages"
        decisions_path = stages / "5-dedup" / "decisions.jsonl"
        signs = sorted((stages / "4-sign").glob("*.docs"))
        if not decisions_path.is_file() or not signs:
            return None
        kept, superseded = kept_for_history(night_docs(signs, night), read_jsonl(decisions_path), config.keep)
        return kept, [tuple(entry) for entry in superseded], f"{stages} (stage files)"

    def _from_outputs(self, night: str, config: DedupConfig):
        folder = self.out_dir / night
        if not (folder / "articles.jsonl").is_file():
            return None
        articles = list(read_jsonl(folder / "articles.jsonl"))
        records = [
            {"key": f"{night}/{Article.key_of(r['source'])}", "id": r["id"], "text": r["text"],
             "title": r["title"], "published": r.get("published")}
            for r in articles
        ]
        docs = make_docs(records, night, config)
        duplicates = list(read_jsonl(folder / "duplicates.jsonl")) if (folder / "duplicates.jsonl").is_file() else []
        # A doc's rank is its place among all the night's cleaned articles, in input order
        # (files sorted, then position in the file): the kept ones and tonight's duplicates.
        order = sorted([(r["source"]["file"], r["source"]["index"]) for r in articles]
                       + [(d["source"]["file"], d["source"]["index"]) for d in duplicates if d.get("source")])
        rank = {position: number for number, position in enumerate(order)}
        for doc, record in zip(docs, articles):
            doc.rank = rank[(record["source"]["file"], record["source"]["index"])]
        kept = sorted(docs, key=priority(config.keep))
        keys = {r["id"]: r["key"] for r in reversed(records)}  # the first article of an id
        superseded = []
        for record in duplicates:
            if record.get("superseded"):
                old = self._key_in(record["night"], record["id"])
                if old is not None and record["dup_of"] in keys:
                    superseded.append((record["night"], old, keys[record["dup_of"]]))
        return kept, superseded, f"{folder / 'articles.jsonl'}"

    def _key_in(self, night: str, article_id: str) -> str | None:
        path = self.out_dir / night / "articles.jsonl"
        if path.is_file():
            for record in read_jsonl(path):
                if record["id"] == article_id:
                    return f"{night}/{Article.key_of(record['source'])}"
        return None

    def site_lines(self, night: str) -> SiteCounts | None:
        """The night's site-line counts again, from its repair stage's pages."""
        pages = sorted((self.out_dir / night / "stages" / "2-repair").glob("*.sitepages.jsonl"))
        if not pages:
            return None
        counts = SiteCounts()
        for path in pages:
            for site, story, keys in read_jsonl(path):
                counts.add_page(site, story, keys)
        return counts


def open_night_history() -> History:
    """The history the settings name; one that cannot be opened stops the command."""
    cfg = Settings()
    try:
        return open_history(cfg.state_dir, cfg.index_url, dedup_config())
    except HistoryMismatch as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))


def verify_history(full: bool) -> tuple[list[str], list[str], str]:
    """The problems and the warnings of the whole history, one line each, and a summary."""
    history = open_night_history()
    try:
        found = all_problems(history, full=full, site_lines_dir=Path(Settings().state_dir) / "site_lines")
        try:
            nights = history.nights()
        except HistoryDamaged:  # named among the problems
            nights = None
        # What a night checks before it runs: the finished nights of out_dir are listed.
        if nights is not None:
            found += [Problem(night, f"night {night} is not in the history ({history.manifest_path} does not "
                                     f"list it), but it is finished in {Settings().out_dir}; {REBUILD_HINT}")
                      for night in OutDirSources().finished_nights() if night not in nights]
    finally:
        history.close()
    problems = [p.message for p in found if not p.warning]
    warnings = [p.message for p in found if p.warning]
    nights = nights or {}
    summary = f"{len(nights)} nights, {sum(e.articles for e in nights.values()):,} articles"
    return problems, warnings, summary


def rebuild_history() -> tuple[list[str], list[str]]:
    """Rebuild the history (see ``dedup.history.rebuild``), the site-line counts first
    (every committed or finished night's, when missing or damaged), so that the manifest
    written records them; returns what was done and what could not be."""
    sources = OutDirSources()
    cfg = Settings()
    try:
        history = open_history(cfg.state_dir, cfg.index_url, dedup_config(), for_rebuild=True)
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))
    try:
        try:
            listed, _ = history.read_manifest()
        except HistoryDamaged:
            listed = {}
        nights = sorted(set(listed) | set(sources.finished_nights()))
        done, messages = restore_site_lines(nights, listed, sources)
        rebuilt, problems = rebuild(history, sources)
    finally:
        history.close()
    return done + rebuilt, messages + [p.message for p in problems]


def restore_site_lines(nights: Sequence[str], listed: dict, sources: OutDirSources) -> tuple[list[str], list[str]]:
    """Each night's site-line counts (``state_dir/site_lines/NIGHT.json``) made whole again
    when missing, impossible, or not the committed ones: from the copy the night keeps in
    its stages (``3-site-lines/counts.json``), else counted again from its repair stage.
    A night with neither is named: a problem when a later night's counting would read it
    (it is among the last ``recent_nights``), else only a note."""
    done, problems = [], []
    state = Path(Settings().state_dir) / "site_lines"
    recent = load_rules(rules_path()).site_lines.recent_nights
    newest = max(nights, default=None)
    for night in nights:
        path = state / f"{night}.json"
        entry = listed.get(night)
        damaged = site_line_sanity(path) if path.exists() else ["missing"]
        if not damaged and entry is not None and entry.site_lines is not None and checksum(path) != entry.site_lines:
            damaged = ["not the committed counts"]
        if not damaged:
            continue
        copy = sources.out_dir / night / "stages" / "3-site-lines" / SITE_COUNTS
        if copy.is_file() and not site_line_sanity(copy):
            write_bytes(path, [copy.read_bytes()])
            done.append(f"night {night}: site-line counts restored from {copy}")
            continue
        counts = sources.site_lines(night)
        if counts is not None:
            write_json(path, counts.to_json())
            done.append(f"night {night}: site-line counts made again from its repair stage")
            continue
        message = (f"night {night}: {path} is {damaged[0] if damaged == ['missing'] else 'damaged'} and "
                   f"{sources.out_dir / night / 'stages'} has neither {SITE_COUNTS} nor repair-stage pages "
                   "to make it from")
        if newest is not None and dt.date.fromisoformat(night) >= dt.date.fromisoformat(newest) - dt.timedelta(
                days=recent):
            problems.append(message + " (the next night's site lines count it: rerun the night)")
        else:
            done.append(message + f" (older than the {recent} nights a night counts: not needed)")
    return done, problems
