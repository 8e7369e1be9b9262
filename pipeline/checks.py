"""What is checked before a night does any work, so that a mistake costs one line and an
exit code instead of a half-run night.

Once per process (:func:`before_any_work`): every setting (unknown keys, values out of
range), the rules file, and the servers the run needs (the Luigi scheduler when the
command line asks for one, Redis when ``index_url`` is set). Each problem stops the
run through :func:`pipeline.exits.refuse` with its own exit code.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

import luigi.interface
from luigi.cmdline_parser import CmdlineParser

from pipeline.exits import Exit, refuse
from pipeline.history import HistoryDamaged, HistoryMismatch, in_window, open_history, stale_nights
from pipeline.rules import RulesError, load_rules
from pipeline.settings import SettingError, check, dedup_config, pipeline, rules_path

logger = logging.getLogger("luigi-interface")

# Seconds to wait for the scheduler or Redis to accept a connection.
CONNECT_TIMEOUT = 3.0

_checked: set[tuple] = set()


def before_any_work() -> None:
    """Check the settings, the rules and the servers, once per set of settings."""
    try:
        cfg = check()
    except SettingError as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    key = tuple(sorted(cfg.to_str_params().items()))
    if key in _checked:
        return
    path = rules_path()
    if not path.is_file():
        refuse(Exit.BAD_SETTINGS, f"[pipeline] rules = {cfg.rules}: no such file ({path.resolve()})")
    try:
        load_rules(path)
    except RulesError as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    _check_scheduler()
    if cfg.index_url:
        _check_redis(cfg.index_url)
    _checked.add(key)


def scheduler_url() -> str | None:
    """The central scheduler a command-line run will use (None: the local scheduler, or
    not a command-line run: ``luigi.build()`` callers choose their scheduler themselves)."""
    if CmdlineParser.get_instance() is None:
        return None
    core = luigi.interface.core()
    if core.local_scheduler:
        return None
    return core.scheduler_url or f"http://{core.scheduler_host}:{core.scheduler_port}/"


def _check_scheduler() -> None:
    url = scheduler_url()
    if url is None:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    problem = _unreachable(parts.hostname or "localhost", port)
    if problem:
        refuse(Exit.UNREACHABLE, f"cannot reach the Luigi scheduler at {url} ({problem}): "
                                 "start luigid there, or run with --local-scheduler")


def _check_redis(url: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT)
        client.ping()
        client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        refuse(Exit.UNREACHABLE, f"cannot reach the Redis index at [pipeline] index_url = {url} ({error})")


def _unreachable(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        return error.strerror or str(error)
    return None


def history_sound(night: str, window: tuple[str | None, set[str]] | None = None,
                  site_nights: Sequence[str] = ()) -> None:
    """Stop the run (exit 11) when the history tonight will read is incomplete or damaged
    (see ``History.window_problems``); stale earlier nights are logged as warnings.
    Checked when the night is scheduled, so that nothing runs against a broken history."""
    cfg = pipeline()
    try:
        history = open_history(cfg.state_dir, cfg.index_url, dedup_config())
    except HistoryMismatch as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))
    try:
        problems = history.window_problems(night, window, site_nights, Path(cfg.state_dir) / "site_lines")
        if window is not None:
            since = window[0]
            problems += [p for p in stale_nights(history.nights())
                         if p.night is not None and in_window(p.night, None, night, since)]
    finally:
        history.close()
    for problem in problems:
        if problem.warning:
            logger.warning("history: %s", problem)
    damage = [p for p in problems if not p.warning]
    if damage:
        more = f" (and {len(damage) - 1} more: python -m pipeline history verify)" if len(damage) > 1 else ""
        refuse(Exit.HISTORY, f"night {night}: the history is not sound: {damage[0]}{more}")
