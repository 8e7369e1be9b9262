"""Exit codes of every command of the pipeline, and the way a run stops before any work.

The exit code and the log are all that cron or systemd see of a night, so each
outcome has its own code, the same for ``luigi --module pipeline.tasks ...``,
``python -m pipeline ...`` and the scripts in ``tasks/``. Codes 3 to 8 are Luigi's
(``[retcode]`` in the shipped ``config/luigi.cfg``); the others are the pipeline's.
"""

from __future__ import annotations

import logging
import sys
from enum import IntEnum
from typing import NoReturn

logger = logging.getLogger("luigi-interface")


class Exit(IntEnum):
    DONE = 0  # the night is done (or was already)
    USAGE = 2  # a malformed command line: a bad --date, an unknown option
    MISSING_RAW = 3  # the night's raw folder is missing (backfill: done, some nights had none)
    TASK_FAILED = 4  # a task failed: the log names it and why
    UNHANDLED = 5  # an error outside any task (a bug: the log has the traceback)
    SCHEDULING = 6  # a task's requires() or complete() failed
    ALREADY_RUNNING = 7  # the same command is running already (Luigi's lock)
    NOT_RUN = 8  # tasks were not run (a dependency failed or is missing)
    BAD_SETTINGS = 9  # a setting is unknown or out of range, the rules file is broken, no configuration
    UNREACHABLE = 10  # the Luigi scheduler or the Redis index cannot be reached
    HISTORY = 11  # the history is incomplete or damaged for tonight's window (see `history verify`)
    NOT_INSTALLED = 12  # tasks/*.sh found no Python with the pipeline installed
    CONFLICT = 13  # the night was started with other settings (rerun it to change them)


class Refused(SystemExit):
    """A run stopped before any work, with one line saying why and a code of :class:`Exit`.

    A ``SystemExit``: Luigi's command line turns any ``Exception`` raised while it
    builds and schedules tasks into a traceback and exit code 5; this passes through
    it with its own code, as argparse's usage errors do.
    """

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(int(code))
        self.exit = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def refuse(code: Exit, message: str) -> NoReturn:
    """Stop the run: ``message`` on one line of stderr, then exit with ``code``."""
    print(f"newsclean: error: {message}", file=sys.stderr, flush=True)
    raise Refused(code, message)
