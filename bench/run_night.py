"""Run one night in this process and print its seconds and peak memory as JSON.

    python -m bench.run_night DATE RAW_DIR OUT_DIR STATE_DIR [--workers N] [--set name=value ...]

The benchmarks start it in a fresh process per measurement, so that peak memory
(the process's maximum resident set) belongs to that night alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time

import luigi
import luigi.configuration
import orjson

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
    started = time.perf_counter()
    ok = luigi.build(
        [CleanCorpus(date=dt.date.fromisoformat(args.date))],
        local_scheduler=True, workers=args.workers, log_level="WARNING",
    )
    seconds = time.perf_counter() - started
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    sys.stdout.buffer.write(orjson.dumps({"ok": ok, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
