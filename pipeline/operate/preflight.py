"""A night's pre-flight: everything checked and prepared before a night does any work,
once, in one place, so that the Luigi tasks stay thin (nothing in their ``__init__`` or
``requires()``) and a mistake costs one line and an exit code instead of a half-run night.

    preflight(night)
      1. the settings, the rules file, the Redis index (reachable, keeps its keys) and the
         Luigi scheduler the command line names          (checks.before_any_work)
      2. the night runs with the settings it was started with: stages/run.json
                                                         (checks.same_settings_as_started)
      3. the history the night will read: its site-line counts of the recent nights
         committed, and its dedup window                 (checks.history_sound)
      4. the rules and the compiled loops loaded, memory tuned, before Luigi forks
                                                         (stages.prepare_before_forking)

``newsclean night``, ``rerun`` and ``backfill`` call it for each night before the build;
``luigi --module pipeline.tasks CleanCorpus`` (Luigi offers no other hook) gets it from
the night's root task when Luigi first asks what the night needs. Either way it runs
once a night in a process: a night already checked is not checked again.
"""

from __future__ import annotations

import datetime as dt

from pipeline import stages
from pipeline.clean.rules import load_rules
from pipeline.operate import checks
from pipeline.settings import Settings, night_paths, raw_nights, rules_path
from pipeline.taskbase import is_raw_night

_done: set[tuple] = set()


def preflight(night: dt.date) -> None:
    """Check and prepare the night (see the module docstring); stops the run with the
    problem's exit code (``operate.exits``)."""
    checks.before_any_work()
    paths = night_paths(night)
    # Done for this night, these settings and this very run record (a night whose
    # folder was removed since, by a rerun or a test, is checked again).
    key = (night, tuple(sorted(Settings().to_str_params().items())), tuple(sorted(checks.run_settings().items())))
    if (key, _record(paths.stages)) in _done:
        return
    if is_raw_night(paths.raw):  # a missing night: RawNight says so, and nothing else runs
        checks.same_settings_as_started(paths.stages, paths.date)
        history_checks(night)
    stages.prepare_before_forking(rules_path())
    if _record(paths.stages) is not None:
        _done.add((key, _record(paths.stages)))


def _record(stages_folder) -> tuple[int, int] | None:
    """Which ``stages/run.json`` the night has (inode, modification time), if any."""
    try:
        found = (stages_folder / checks.RUN_RECORD).stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def history_checks(night: dt.date) -> None:
    """The history the night reads is complete and intact (exit 11 else): the site-line
    counts of the recent nights whose commit is done, then the dedup window's nights."""
    from pipeline import tasks  # the tasks say which nights they read

    recent = [d for d in _recent_nights(night) if d.isoformat() in raw_nights()]
    committed = [d.isoformat() for d in recent if tasks.CommitHistory(date=d).complete()]
    checks.history_sound(night.isoformat(), site_nights=committed)
    tasks.Deduplicate(date=night).check_history()


def _recent_nights(night: dt.date) -> list[dt.date]:
    settings = load_rules(rules_path()).site_lines
    return [night - dt.timedelta(days=days) for days in range(1, settings.recent_nights + 1)]

