"""What a one-worker night cannot go below: the steps every night runs, each timed alone.

    python -m bench.floor                    # the 20,000-article night of bench.peers, 3 rounds
    python -m bench.floor --peer-python P    # and text-dedup beside it, for the budget

Runs the night once through the chain (``bench.peers``'s night and command), then times,
on that night's own stage files and in one process, the steps that are already compiled
loops or a required library, each as the chain runs them (in ``io.parallel.batches``),
the fastest of ``--repeat`` runs:

- start: a fresh Python importing the tasks and loading what ``prepare_before_forking``
  loads (rules, compiled loops, language model), as every night does before its first task;
- parse: ``orjson.loads`` of the read stage's lines (the reading itself, splitting and
  decoding files, not counted);
- repair: ``passes.repair_step`` (ftfy's checks, and its fixes where needed);
- languages: ``Identifier.classify_many`` of the repaired texts (the chain reads what the
  rules leave: a little less text);
- sign: ``passes.sign_step`` (words, shingles, MinHash signatures) of the repaired articles.

Their sum is a floor for the night with its present loops: the rules, the line
classifier, dedup, the history and the outputs all come on top. With text-dedup
(``bench.peers``'s ``--peer-python`` or ``--install``), its median seconds over the rounds
give the budget a speed-up target leaves (``--target``, 5 by default). Results go to
``bench/results/floor-N.json``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench.common import RESULTS, ROOT, best_of, machine, save
from bench.peers import install, peer_python, run_chain, run_peer
from bench.pipeline import NIGHT, generate
from pipeline import passes
from pipeline.io.parallel import batches
from pipeline.language import Identifier
from pipeline.tasks import dedup_config

START = ("import pipeline.tasks as t, pipeline.stages as s; "
         "s.prepare_before_forking(t.rules_path())")


def start_seconds() -> float:
    """Wall seconds of a fresh process that imports the tasks and loads what a night
    loads before its first task."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", START], cwd=ROOT, check=True)
    return time.perf_counter() - started


def stage_lines(stages: Path, stage: str) -> list[bytes]:
    return [line for path in sorted((stages / stage).glob("shard-*.articles.jsonl"))
            for line in path.read_bytes().splitlines() if line.strip()]


def step_seconds(stages: Path, repeat: int) -> tuple[dict[str, float], int]:
    """Each step's fastest seconds over the night's articles, and their number."""
    read_lines, repaired_lines = stage_lines(stages, "1-read"), stage_lines(stages, "2-repair")
    parse, read = best_of(repeat, lambda: [orjson.loads(line) for line in read_lines])
    repair, _ = best_of(repeat, lambda: [passes.repair_step([dict(r) for r in chunk]) for chunk in batches(read)])
    repaired = [orjson.loads(line) for line in repaired_lines]
    identifier = Identifier.shared()
    identifier.classify_many(["Warm up."])
    languages, _ = best_of(repeat, lambda: [identifier.classify_many([r["text"] for r in chunk])
                                            for chunk in batches(repaired)])
    config = dedup_config()
    passes.sign_step(repaired[:8], NIGHT, config)
    sign, _ = best_of(repeat, lambda: [passes.sign_step(chunk, NIGHT, config) for chunk in batches(repaired)])
    return {"parse": parse, "repair": repair, "languages": languages, "sign": sign}, len(read)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the night, and runs of each step")
    parser.add_argument("--target", type=float, default=5.0, help="the speed-up over text-dedup to budget for")
    parser.add_argument("--peer-python", help="a Python with text-dedup 0.4.0")
    parser.add_argument("--install", action="store_true", help="pip install text-dedup into its venv first")
    args = parser.parse_args()
    python = peer_python(args.peer_python) or (install() if args.install else None)
    work = RESULTS / f"peers-{args.articles}"
    generate(work / "raw", args.articles, jsonl_files=8)
    rounds = []
    for _ in range(args.repeat):
        rounds.append({"start": round(start_seconds(), 3), "chain": run_chain(work, 1)["seconds"],
                       "text_dedup": run_peer(python, work, 1)["seconds"] if python else None})
    steps, articles = step_seconds(work / "out" / NIGHT / "stages", args.repeat)
    floor = {"start": statistics.median(r["start"] for r in rounds), **steps}
    results = {
        "articles": articles, "floor_seconds": {k: round(v, 3) for k, v in floor.items()},
        "floor_total": round(sum(floor.values()), 3), "rounds": rounds,
        "chain_seconds": statistics.median(r["chain"] for r in rounds),
        "text_dedup_seconds": statistics.median(r["text_dedup"] for r in rounds) if python else None,
    }
    if python:
        results["budget_seconds"] = round(results["text_dedup_seconds"] / args.target, 3)
    path = save(f"floor-{args.articles}", results)
    print(f"machine: {machine()}")
    print(f"{'step':<12}{'seconds':>9}{'us/article':>12}")
    for name, seconds in floor.items():
        print(f"{name:<12}{seconds:>9.2f}{seconds / articles * 1e6:>12.1f}")
    print(f"{'floor':<12}{results['floor_total']:>9.2f}   the whole night: {results['chain_seconds']} s (median)")
    if python:
        print(f"text-dedup {results['text_dedup_seconds']} s (median): {args.target:g}x leaves "
              f"{results['budget_seconds']} s, the floor is {results['floor_total'] / results['budget_seconds']:.2f} of it")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
