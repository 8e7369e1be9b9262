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
import sys
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
from pipeline.dedup.history import (
    later_dependents,
    stale_nights,
)
from pipeline.io.jsonl import read_json
from pipeline.operate import checks
from pipeline.operate.exits import Exit, refuse
from pipeline.operate.history import open_night_history
from pipeline.operate.preflight import preflight
from pipeline.read.files import list_night, raw_sum
from pipeline.settings import (
    Settings,
    night_paths,
    raw_nights,
)
from pipeline.taskbase import failures_of, forget_failures, night_finished

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
    for date in dates:
        forget_failures(date.isoformat())
        preflight(date)
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
            _say_failures(dates)
            return code if code != Exit.DONE else Exit.NOT_RUN
        time.sleep(OTHERS_WAIT)
        waited += OTHERS_WAIT


def _say_failures(dates: Sequence[dt.date]) -> None:
    """End with what failed and why, one line a failed task (after Luigi's summary)."""
    for date in dates:
        for task, error in sorted(failures_of(date.isoformat()).items()):
            print(f"newsclean: error: night {date}: {task} failed: {error}", file=sys.stderr, flush=True)
        forget_failures(date.isoformat())


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
