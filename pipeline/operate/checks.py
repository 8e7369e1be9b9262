"""What is checked before a night does any work, so that a mistake costs one line and an
exit code instead of a half-run night.

Once per process (:func:`before_any_work`): every setting (unknown keys, values out of
range), the rules file, and the servers the run needs (the Luigi scheduler when the
command line asks for one, Redis when ``index_url`` is set). Each problem stops the
run through :func:`pipeline.operate.exits.refuse` with its own exit code.
"""

from __future__ import annotations

import functools
import logging
import socket
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

import luigi.interface
import orjson
from luigi.cmdline_parser import CmdlineParser

from pipeline.clean.rules import RulesError, load_rules
from pipeline.dedup.history import (
    HistoryDamaged,
    HistoryMismatch,
    in_window,
    open_history,
    settings_fingerprint,
    stale_nights,
    window_problems,
)
from pipeline.dedup.history.files import checksum
from pipeline.io.jsonl import claim_file, is_temporary
from pipeline.operate.exits import Exit, refuse
from pipeline.settings import SettingError, Settings, check, dedup_config, rules_path

logger = logging.getLogger("luigi-interface")

# Seconds to wait for the scheduler or Redis to accept a connection.
CONNECT_TIMEOUT = 3.0

_checked: set[tuple] = set()
_sound: set[tuple] = set()


def before_any_work() -> None:
    """Check the settings, the rules and the servers, once per set of settings."""
    settings_sound()
    key = tuple(sorted(Settings().to_str_params().items()))
    if key in _checked:
        return
    _check_scheduler()
    _checked.add(key)


def settings_sound() -> None:
    """Check the settings, the rules file and the Redis index (what a maintenance command
    needs; it schedules nothing)."""
    try:
        cfg = check()
    except SettingError as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    key = tuple(sorted(cfg.to_str_params().items()))
    if key in _sound:
        return
    path = rules_path()
    if not path.is_file():
        refuse(Exit.BAD_SETTINGS, f"[pipeline] rules = {cfg.rules}: no such file ({path.resolve()})")
    try:
        load_rules(path)
    except RulesError as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    if cfg.index_url:
        _check_redis(cfg.index_url)
    _sound.add(key)


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

    from pipeline.dedup.history.redisindex import eviction_problem

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT)
        client.ping()
        problem = eviction_problem(client)
        client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        refuse(Exit.UNREACHABLE, f"cannot reach the Redis index at [pipeline] index_url = {url} ({error})")
    if problem:
        refuse(Exit.BAD_SETTINGS, f"[pipeline] index_url = {url}: the Redis there cannot hold the index: {problem}")


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
    cfg = Settings()
    try:
        history = open_history(cfg.state_dir, cfg.index_url, dedup_config())
    except HistoryMismatch as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))
    try:
        problems = window_problems(history, night, window, site_nights, Path(cfg.state_dir) / "site_lines")
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


# Settings that change a night's results: a night is finished with the ones it started with.
RESULT_SETTINGS = ("min_words", "threshold", "num_perm", "shingle_size", "minhash_seed",
                   "lsh_bands", "lsh_rows", "lsh_recall", "keep", "history_days", "languages", "max_page_bytes")
RUN_RECORD = "run.json"


def run_settings() -> dict[str, str]:
    """The settings a night's results depend on (the rules by their content)."""
    cfg = Settings()
    path = rules_path()
    stat = path.stat()
    return dict(_run_settings(tuple(sorted(cfg.to_str_params().items())), path, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _run_settings(params: tuple, rules: Path, size: int, mtime: int) -> tuple:
    cfg = Settings()
    values = {name: str(getattr(cfg, name)) for name in RESULT_SETTINGS}
    values["rules"] = checksum(rules).xxh3
    values["dedup"] = settings_fingerprint(dedup_config())  # with the word rule's version
    return tuple(values.items())


def same_settings_as_started(stages: Path, night: str) -> None:
    """A night runs to its end with the settings it was started with: the first run
    records them (``stages/run.json``); a run with other settings, at the same time or
    after an interrupted one, stops (exit 13) instead of mixing two runs' stage files."""
    record = stages / RUN_RECORD
    mine = run_settings()
    key = (str(record), tuple(mine.items()))
    if key in _same_settings and record.exists():
        return  # checked already in this process (Luigi asks each task's requires() again)
    try:
        if not record.exists() and stages.is_dir() and any(not is_temporary(p) for p in stages.iterdir()):
            # Started by a version that kept no record: its settings are not known. (A
            # record a killed run was writing is not a start: it is cleared and claimed.)
            return
        stages.mkdir(parents=True, exist_ok=True)
        claim_file(record, orjson.dumps(mine, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    except FileExistsError:
        pass
    except OSError:
        return  # an output folder that cannot be written: the first task says so, naming it
    started = settings_started(stages)
    # Settings a run by an earlier version did not record are not known to differ.
    changed = [k for k in sorted(mine) if started is not None and k in started and started[k] != mine[k]]
    if changed:
        changed = ", ".join(f"{k} {started.get(k)!r} -> {mine.get(k)!r}" for k in changed)
        refuse(Exit.CONFLICT, f"night {night} was started with other settings ({changed}): finish it with "
                              f"those, or start it over with these: python -m pipeline rerun {night}")
    if started is not None:
        _same_settings.add(key)


_same_settings: set[tuple] = set()


def settings_started(stages: Path) -> dict[str, str] | None:
    try:
        return orjson.loads((stages / RUN_RECORD).read_bytes())
    except (OSError, ValueError):
        return None
