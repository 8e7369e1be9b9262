"""Run one night in this process and print its seconds, peak memory and task timeline as JSON.

    python -m bench.run_night DATE RAW_DIR OUT_DIR STATE_DIR [--workers N] [--set name=value ...]

The benchmarks start it in a fresh process per measurement, so that peak memory
(the process's maximum resident set) belongs to that night alone.

Peak memory is given three ways: the largest process's maximum resident set
(``peak_rss_mb``, from the kernel), and the night's whole footprint, the memory of this
process and every process it started added up, sampled every 50 ms from ``/proc`` by a process of its own
(``bench.memory``; Luigi's worker processes and the pools they fork): their resident sets added up
(``peak_rss_sum_mb``, which counts the pages a forked worker shares with its parent once
in each), and their proportional sets added up (``peak_pss_sum_mb``, each shared page
divided among the processes sharing it: what the night takes from the machine).

The timeline says how busy the workers were: the seconds before the first task
started, and the seconds during which exactly k tasks were running (with several
workers, Luigi runs each task in a process of its own; the events are collected
through a file, in the order they happened).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import luigi
import luigi.configuration
import orjson

from bench.memory import Sampler
from pipeline.tasks import CleanCorpus


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("date")
    parser.add_argument("raw_dir")
    parser.add_argument("out_dir")
    parser.add_argument("state_dir")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="a [pipeline] setting, name=value")
    args = parser.parse_args()
    config = luigi.configuration.get_config()
    for name, value in [("raw_dir", args.raw_dir), ("out_dir", args.out_dir), ("state_dir", args.state_dir)] + [
        tuple(item.split("=", 1)) for item in args.set
    ]:
        config.set("pipeline", name, value)
    sampler = Sampler()
    with tempfile.NamedTemporaryFile(prefix="night-events-", suffix=".jsonl") as events:
        _record_events(events.name)
        started = time.perf_counter()
        ok = luigi.build(
            [CleanCorpus(date=dt.date.fromisoformat(args.date))],
            local_scheduler=True, workers=args.workers, log_level="WARNING",
        )
        seconds = time.perf_counter() - started
        timeline = busy_seconds(started, seconds, [orjson.loads(line) for line in events.read().splitlines()])
    peaks = sampler.stop()
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    sys.stdout.buffer.write(orjson.dumps({"ok": ok, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_kb / 1024, 1),
                                          "peak_rss_sum_mb": round(peaks["rss"] / 2**20, 1),
                                          "peak_pss_sum_mb": round(peaks["pss"] / 2**20, 1),
                                          "timeline": timeline}))
    return 0 if ok else 1


def _record_events(path: str) -> None:
    """Append each task's start and end, with the clock (monotonic, shared by the
    processes of one machine), to ``path``: one write per event, so that events from
    the workers' processes never interleave."""

    def handler(kind: str):
        def record(task: luigi.Task, *_args) -> None:
            line = orjson.dumps({"t": time.perf_counter(), "event": kind, "task": task.task_id}) + b"\n"
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        return record

    luigi.Task.event_handler(luigi.Event.START)(handler("start"))
    for event in (luigi.Event.SUCCESS, luigi.Event.FAILURE):
        luigi.Task.event_handler(event)(handler("end"))


def busy_seconds(started: float, seconds: float, events: list[dict]) -> dict:
    """From start and end events: seconds before the first task started, and seconds
    with exactly k tasks running, for each k (rounded to the millisecond).

    >>> busy_seconds(0.0, 5.0, [{"t": 1.0, "event": "start", "task": "a"}, {"t": 2.0, "event": "start", "task": "b"},
    ...                         {"t": 3.0, "event": "end", "task": "a"}, {"t": 4.5, "event": "end", "task": "b"}])
    {'before_first_task': 1.0, 'tasks_running': {'0': 1.5, '1': 2.5, '2': 1.0}}
    """
    running: set[str] = set()
    spans: Counter = Counter()
    first = None
    at = started
    for event in sorted(events, key=lambda e: e["t"]):
        if first is None and event["event"] == "start":
            first = event["t"]
        spans[len(running)] += event["t"] - at
        at = event["t"]
        if event["event"] == "start":
            running.add(event["task"])
        else:
            running.discard(event["task"])
    spans[len(running)] += started + seconds - at
    return {
        "before_first_task": round((first if first is not None else started + seconds) - started, 3),
        "tasks_running": {str(k): round(spans[k], 3) for k in sorted(spans)},
    }


if __name__ == "__main__":
    sys.exit(main())
