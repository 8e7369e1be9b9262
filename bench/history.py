"""Cross-night dedup against a large history: memory and time of a night.

    python -m bench.history                 # 1,000,000 history articles, 10,000 tonight
    python -m bench.history --history 100000 --night 2000   # a quicker look

Builds (once, cached in bench/results/history-N/) an embedded history (night folders) of N kept
articles over 100 earlier nights: 2,000 of them real synthetic articles, the rest
index entries with random signatures and shingles (they cost lookups like real ones,
and random signatures never collide with real ones). Then runs the full Luigi chain
on a night of 10,000 synthetic articles, 500 of them updated copies of history
articles, twice: against an empty history and against the large one, each in a fresh
process, and prints seconds (whole night and dedup stage), peak memory, and the
planted cross-night duplicates found.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from bench.common import RESULTS, ROOT, machine, save
from bench.synthetic import TextGenerator
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import make_docs
from pipeline.dedup.history import History
from pipeline.dedup.history.files import count_articles
from pipeline.dedup.history.store import FOLDER_NAME

TONIGHT = "2026-11-27"
REAL_HISTORY = 2000
PLANTED = 500
EARLIER_NIGHTS = 100


def build_history(folder: Path, size: int, generator: TextGenerator) -> list[tuple[str, str]]:
    """The history (cached) and the real articles in it, as (id, text)."""
    folder.mkdir(parents=True, exist_ok=True)
    real_path = folder / "real.jsonl"
    store = folder / FOLDER_NAME
    config = DedupConfig()
    if real_path.exists() and store.exists() and count_articles(store, before=TONIGHT) == size:
        return [tuple(orjson.loads(line)) for line in real_path.read_bytes().splitlines()]
    shutil.rmtree(store, ignore_errors=True)
    history = History(folder, config)
    real = [(f"hist-{i}", generator.article()[1]) for i in range(REAL_HISTORY)]
    rng = np.random.default_rng(7)
    per_night = size // EARLIER_NIGHTS
    first = dt.date.fromisoformat(TONIGHT) - dt.timedelta(days=EARLIER_NIGHTS)
    started = time.perf_counter()
    total = 0
    for n in range(EARLIER_NIGHTS):
        night = (first + dt.timedelta(days=n)).isoformat()
        docs: list[Doc] = []
        if n == 0:
            docs = make_docs([{"key": f"{night}/{i}", "id": i, "text": t} for i, t in real], night, config)
        target = per_night * (n + 1) if n < EARLIER_NIGHTS - 1 else size
        count = max(0, target - total - len(docs))
        signatures = rng.integers(0, 2**32, size=(count, config.num_perm), dtype=np.uint32)
        shingles = np.sort(rng.integers(0, 2**63, size=(count, 200), dtype=np.uint64), axis=1)
        for i in range(count):
            exact = f"{n:08d}{i:024d}"  # 32 characters, like a real exact key
            docs.append(Doc(key=f"{night}/r{i}", id=f"r-{n}-{i}", night=night, rank=len(docs), n_words=204,
                            exact=exact, shingles=shingles[i], signature=signatures[i]))
        history.commit(night, docs, [])
        total += len(docs)
        print(f"  history night {n + 1}/{EARLIER_NIGHTS}: {count_articles(store):,} articles, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    history.close()
    real_path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in real))
    return real


def write_night(raw: Path, generator: TextGenerator, real: list[tuple[str, str]], size: int) -> None:
    night = raw / TONIGHT
    night.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(size):
        if i < PLANTED:
            source_id, text = real[i * (len(real) // PLANTED)]
            records.append({"id": f"copy-of-{source_id}", "title": f"Update {i}", "text": generator.near_copy(text)})
        else:
            title, text = generator.article()
            records.append({"id": f"new-{i}", "title": title, "text": text})
    (night / "night.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def run_night(raw: Path, out: Path, state: Path) -> dict:
    """Run the night in a fresh process; seconds, peak RSS (MB), dedup seconds, cross-night dups."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "bench.run_night", TONIGHT, str(raw), str(out), str(state)]
    measured = orjson.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True).stdout)
    report = orjson.loads((out / TONIGHT / "report.json").read_bytes())
    duplicates = [orjson.loads(line) for line in (out / TONIGHT / "duplicates.jsonl").read_bytes().splitlines()]
    return {
        "seconds": measured["seconds"],
        "dedup_seconds": report["seconds"]["dedup"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "cross_night_duplicates": sum(d["dup_of_night"] != TONIGHT for d in duplicates),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=1_000_000, help="articles in the history")
    parser.add_argument("--night", type=int, default=10_000, help="articles tonight")
    args = parser.parse_args()
    work = RESULTS / f"history-{args.history}"
    generator = TextGenerator(seed=11)
    print(f"building (or reusing) a history of {args.history:,} articles in {work}")
    real = build_history(work / "state-large", args.history, generator)
    write_night(work / "raw", generator, real, args.night)
    empty_state = work / "state-empty"
    shutil.rmtree(empty_state, ignore_errors=True)
    empty = run_night(work / "raw", work / "out-empty", empty_state)
    large_store = work / "state-large" / FOLDER_NAME
    # The night checks the history it reads: the first time every file is checksummed
    # (cold), later only the files changed since their last check (warm, each night).
    (large_store / ".checked.json").unlink(missing_ok=True)
    cold = run_night(work / "raw", work / "out-large", large_store.parent)
    large = run_night(work / "raw", work / "out-large", large_store.parent)
    results = {
        "history_articles": args.history,
        "night_articles": args.night,
        "planted_cross_night": PLANTED,
        "empty_history": empty,
        "large_history": large,
        "large_history_first_check": cold,
        "night_time_ratio": round(large["seconds"] / empty["seconds"], 2),
        "dedup_time_ratio": round(large["dedup_seconds"] / max(empty["dedup_seconds"], 1e-9), 2),
        "history_file_mb": round(sum(p.stat().st_size for p in large_store.rglob("*") if p.is_file()) / 1e6, 1),
    }
    path = save(f"history-{args.history}", results)
    print(f"machine: {machine()}")
    print(f"{'history':<16}{'night s':>9}{'dedup s':>9}{'peak MB':>9}{'cross-night dups':>18}")
    for label, r in (("empty", empty), (f"{args.history:,}", large), ("  first check", cold)):
        print(f"{label:<16}{r['seconds']:>9}{r['dedup_seconds']:>9}{r['peak_rss_mb']:>9}"
              f"{r['cross_night_duplicates']:>18}")
    print(f"night time ratio {results['night_time_ratio']}x, dedup stage ratio {results['dedup_time_ratio']}x, "
          f"history on disk {results['history_file_mb']} MB; planted {PLANTED}")
    print(f"results: {path}")
    ok = large["peak_rss_mb"] <= 2048 and results["night_time_ratio"] <= 2 and large["cross_night_duplicates"] >= PLANTED
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
