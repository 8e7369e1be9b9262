"""What every task of the nightly chain shares (Luigi only): the night parameter, the raw
folder as an external task, progress reports, one process at a time per task, and the
night and shard tasks the chain's tasks derive from (``tasks``)."""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import luigi
import orjson

from pipeline.io.arrays import digest_of
from pipeline.io.jsonl import OutputError, read_json, write_json
from pipeline.operate.exits import Exit, refuse
from pipeline.outputs import NAMES as OUTPUT_NAMES
from pipeline.read.files import Shard, file_sizes, plan_night, raw_sums
from pipeline.records import Rejection
from pipeline.settings import (
    NightPaths,
    Settings,
    is_raw_night,
    lock_path,
    locks_folder,
    night_paths,
)

logger = logging.getLogger("luigi-interface")
# Seconds between progress reports of a running task (log line, luigid status).
PROGRESS_EVERY = 5.0


class Progress:
    """Reports a task's progress to Luigi (percentage, status message) and the log."""

    def __init__(self, task: luigi.Task, total: int, label: str) -> None:
        self.task, self.total, self.label = task, max(total, 1), label
        self.done, self.last = 0, time.monotonic()
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


class LastNightParameter(NightParameter):
    """A night that is yesterday's unless given: what cron runs, ``luigi --module
    pipeline.tasks CleanCorpus`` without ``--date``. Yesterday as of when the night is
    scheduled, not when the module was imported."""

    @property
    def _default(self) -> dt.date:
        return dt.date.today() - dt.timedelta(days=1)

    @_default.setter
    def _default(self, value: Any) -> None:
        pass  # Parameter.__init__ sets it; the day is worked out when asked


class RawNight(luigi.ExternalTask):
    """A night's raw folder, written by the scraper (a symbolic link is not one)."""

    date = NightParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(night_paths(self.date).raw))

    def complete(self) -> bool:
        return is_raw_night(night_paths(self.date).raw)


@RawNight.event_handler(luigi.Event.DEPENDENCY_MISSING)
def _raw_night_missing(task: RawNight) -> None:
    path = Path(task.output().path)
    what = "is a symbolic link, not followed" if path.is_symlink() else "does not exist"
    logger.error("night %s: no raw folder: %s %s (raw_dir = %s)", task.date, path.absolute(), what,
                 Settings().raw_dir)


# --- why a task failed, for the command's last line ------------------------------------------------
#
# Luigi logs a failed task's traceback where the task ran (with several workers, in a
# process of its own) and ends with its summary. A task that fails notes its task and
# error, here and in its night's lock folder, so that ``python -m pipeline`` can end with
# one line naming what failed and why (``operate.commands``).

FAILED = "failed"
_failed_here: dict[str, dict[str, str]] = {}  # night -> task -> error, of the tasks this process ran


def failures_of(night: str) -> dict[str, str]:
    """The failures noted for a night (task -> the error's last line) by the processes
    that ran its tasks, this one included."""
    found = dict(_failed_here.get(night, {}))
    for folder in _failure_folders(night, os.getpid()):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            try:
                task, error = orjson.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            found.setdefault(task, error)
    return found


def _failure_folders(night: str, run: int) -> tuple[Path, Path]:
    """Where a task notes its failure: its night's lock folder, or, when the state folder
    cannot be written (a full disk), the temporary folder, under the pid of the process
    that runs the night (the task's parent when Luigi forks a process per task)."""
    return locks_folder(night) / FAILED, Path(tempfile.gettempdir()) / f"newsclean-{run}-{FAILED}" / night


def forget_failures(night: str) -> None:
    _failed_here.pop(night, None)
    for folder in _failure_folders(night, os.getpid()):
        shutil.rmtree(folder, ignore_errors=True)
    try:
        _failure_folders(night, os.getpid())[1].parent.rmdir()  # once empty
    except OSError:
        pass


def one_at_a_time(run: Callable[["NightTask"], None]) -> Callable[["NightTask"], None]:
    """A task's run, done by one process at a time: two runs of a night at once (another
    command line, another machine without a shared scheduler) would otherwise write the
    same outputs side by side, and one replace a folder the other reads. The second waits
    for the first, then finds the task done and leaves it (``settings.lock_path``)."""

    @functools.wraps(run)
    def locked(self: "NightTask") -> None:
        path = lock_path(self.paths.date, self.task_id)
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
            self.record_made_from()

    return locked


# --- what a stage was made from -------------------------------------------------------------------
#
# A stage's files are the night's only while the raw files they were made from are the
# night's raw files: a night resumed after a raw file was rewritten (or replaced, or
# added) redoes what depended on it, instead of taking the old shard for done. Each task
# records, once it has run, the digest of the raw files' contents it was made from
# (``stages/made-from/<task>.json``: the read stage's checksums of the bytes it read, or
# those the later stages' inputs were made from); it is complete while that is the digest
# of the files now. A finished night (its outputs written and its history committed) is
# done whatever its raw folder holds now: ``late`` reports the change, ``rerun`` applies it.

MADE_FROM = "made-from"


def night_finished(paths: NightPaths) -> bool:
    """Whether a night's outputs are written and its kept articles committed to the history
    (a night finished before the commit was a task of its own has no ``stages/3-removed``:
    its Deduplicate committed)."""
    if not all((paths.out / name).is_file() for name in OUTPUT_NAMES):
        return False
    return (paths.stages / "5-dedup" / "history.stats.json").is_file() or not (paths.stages / "3-removed").exists()


def read_record(paths: NightPaths, shard: str) -> Path:
    """Where the read stage (ReadFile) records what a shard's files held as it read them."""
    return paths.stages / MADE_FROM / f"ReadFile-{shard}.json"


def recorded_made_from(path: Path) -> str | None:
    try:
        return orjson.loads(path.read_bytes())["made_from"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class NightTask(luigi.Task):
    """A task about one night: it requires the night's raw folder, and ``dependencies()``."""

    date = NightParameter()

    @functools.cached_property
    def paths(self):
        return night_paths(self.date)

    def requires(self) -> dict[str, Any]:
        """The raw night and ``dependencies()``. Nothing is checked here: the night's
        pre-flight (``operate.preflight``) did it once, before Luigi asked."""
        if not is_raw_night(self.paths.raw):
            return {"raw": RawNight(self.date)}  # nothing else is scheduled for a missing night
        return {"raw": RawNight(self.date), **self.dependencies()}

    def dependencies(self) -> dict[str, Any]:
        return {}

    def complete(self) -> bool:
        """Outputs written from the raw files the night holds now (see ``night_finished``)."""
        if not super().complete():
            return False
        return night_finished(self.paths) or recorded_made_from(self.made_from_path) == self.inputs_now()

    @property
    def made_from_path(self) -> Path:
        return self.paths.stages / MADE_FROM / f"{self.get_task_family()}.json"

    def inputs_now(self) -> str:
        """The digest of the night's raw files as they are now: each shard's, and the files
        rejected when listing the night."""
        shards, listing = self.plan()
        return self._night_digest([digest_of(raw_sums(self.paths.raw, s.files)) for s in shards], listing)

    def inputs_used(self) -> str:
        """The digest of the raw files this task's inputs were made from: the read stage's
        record of each shard."""
        shards, listing = self.plan()
        return self._night_digest([recorded_made_from(read_record(self.paths, s.name)) for s in shards], listing)

    @staticmethod
    def _night_digest(shards: list[str | None], listing: list[Rejection]) -> str:
        return digest_of([*((str(k), 0, d or "") for k, d in enumerate(shards)),
                          *((r.file, 0, r.reason) for r in listing)])

    def record_made_from(self) -> None:
        write_json(self.made_from_path, {"made_from": self.inputs_used()})

    @functools.cached_property
    def _plan(self) -> tuple[list[Shard], list[Rejection]]:
        cfg = Settings()
        return plan_night(self.paths.raw, cfg.shard_bytes, cfg.shard_files) if is_raw_night(self.paths.raw) else ([], [])

    def plan(self) -> tuple[list[Shard], list[Rejection]]:
        """The night's shards and the files rejected when listing it, planned once per
        task instance (files that arrive later wait for a rerun)."""
        return self._plan

    def shard_tasks(self, task_class: type["ShardTask"]) -> list["ShardTask"]:
        """The night's tasks of a per-shard stage, each told its shard (Luigi gives back
        the same instance for the same parameters: a shard task made here or later by
        ``upstream`` need not plan the night again, which costs a look at every file)."""
        return [task_class(date=self.date, shard=s.index, digest=s.digest).told(s) for s in self.plan()[0]]


class ShardTask(NightTask):
    """A per-file stage over one shard of the night's files (one file, or several small
    ones), writing ``stages/<stage>/shard-NNNNN.<part>``."""

    shard = luigi.IntParameter()
    # The shard's file list is the night's plan's, not a parameter: a parameter is in
    # every log line and luigid row of the task, and a shard may hold thousands of files.
    digest = luigi.Parameter(description="the shard's files and sizes, hashed (read.files.Shard.digest)")
    parts: dict[str, tuple[str, str]] = {}  # output name -> (stage folder, file suffix)

    def told(self, shard: Shard) -> "ShardTask":
        """This task, with its shard of the plan that named it."""
        if shard.index == self.shard and shard.digest == self.digest:
            self._told = shard
        return self

    @functools.cached_property
    def planned(self) -> Shard:
        """This task's shard of the night's plan (the one it was told, else the night
        planned again); the shard's files must still be those that named the task: the
        same names, the same sizes (files changed in between make another shard, another
        task)."""
        told = getattr(self, "_told", None)
        if told is not None:
            shard = Shard(told.index, told.files, file_sizes(self.paths.raw, told.files))
        else:
            shard = next((s for s in self.plan()[0] if s.index == self.shard), None)
        if shard is None or shard.digest != self.digest:
            raise RuntimeError(f"{self.paths.raw}: the night's files changed since this run planned shard "
                               f"{self.shard} ({self.digest}); run the night again")
        return shard

    @property
    def made_from_path(self) -> Path:
        return self.paths.stages / MADE_FROM / f"{self.get_task_family()}-{Shard.name_of(self.shard)}.json"

    def inputs_now(self) -> str:
        """The digest of the shard's raw files now, when they are the files its read stage
        read (the task's ``digest`` names the shard's files and sizes in tonight's plan),
        without listing the night again for each of its shards."""
        try:
            read = read_json(self.paths.stage_file("1-read", Shard.name_of(self.shard), "stats.json"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return ""
        names, sizes = tuple(e["file"] for e in read), tuple(e["bytes"] for e in read)
        if Shard(self.shard, names, sizes).digest != self.digest:
            return ""  # made from other files than the shard holds now
        return digest_of(raw_sums(self.paths.raw, names))

    def inputs_used(self) -> str:
        """The shard's raw files as the read stage read them (ReadFile), as recorded."""
        return recorded_made_from(read_record(self.paths, Shard.name_of(self.shard))) or ""

    def output(self) -> dict[str, luigi.LocalTarget]:
        name = Shard.name_of(self.shard)
        return {part: luigi.LocalTarget(str(self.paths.stage_file(stage, name, suffix)))
                for part, (stage, suffix) in self.parts.items()}

    def paths_of(self, kind: type) -> Any:
        """This task's output paths as the stage function takes them."""
        return kind(**{name: Path(target.path) for name, target in self.output().items()})

    def upstream(self, task_class: type["ShardTask"]) -> "ShardTask":
        return task_class(date=self.date, shard=self.shard, digest=self.digest)


@NightTask.event_handler(luigi.Event.FAILURE)
def _note_failure(task: NightTask, error: BaseException) -> None:
    text = str(error).strip()
    why = text.splitlines()[-1] if text else type(error).__name__
    _failed_here.setdefault(task.paths.date, {})[str(task)] = why
    for folder in _failure_folders(task.paths.date, os.getppid()):
        try:
            write_json(folder / f"{task.task_id}.json", [str(task), why])
            return
        except OSError:
            continue  # a full state_dir: the temporary folder, else this process's own note
