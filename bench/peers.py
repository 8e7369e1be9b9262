"""The chain side by side with text-dedup, on the same night, in one run.

    python -m bench.peers                      # 20,000 articles, 1 worker / 1 process, 3 rounds
    python -m bench.peers --workers 2          # 2 workers against 2 processes
    python -m bench.peers --install            # first make text-dedup's own venv (pip)
    python -m bench.peers --pages 724          # a night of pages against trafilatura.extract alone

The night is ``bench.pipeline``'s synthetic one (BBC-like paragraphs, 8 % planted
duplicates, some mojibake), written as 8 JSONL files: the layout both read. Each round
runs the whole chain (``python -m bench.run_night``: read, repair, clean, languages,
MinHash, dedup with every candidate pair confirmed, outputs) and then text-dedup 0.4.0's
MinHash deduplication (``python -m text_dedup.minhash``: xxh3, 5-word shingles, 128
permutations, threshold 0.8, its own banding), each in a fresh process on fresh output
folders and a fresh cache; the wall-clock seconds of the whole command are compared,
imports included. The figures are the medians of the rounds, and each round's ratio.

With ``--pages N`` the night is N pages of real sites' markup (``bench.pipeline``'s
``generate_pages``: the 181 pages of the shared corpora, each N/181 times with other
paragraphs), half as ``.html.gz`` files and half in WARC crawls, and the peer is one
process running ``trafilatura.extract`` with its defaults on every page
(``python -m bench.trafilatura_alone``): what extraction alone costs.

text-dedup needs pyspark, datasets and more, so it lives in a venv of its own:
``--install`` makes it in ``bench/results/peers-venv`` (or give ``--peer-python``, or
``TEXT_DEDUP_PYTHON``). Without it, the command says so and exits 2. Results go to
``bench/results/peers-N-wW.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench.common import RESULTS, ROOT, machine, save
from bench.pipeline import NIGHT, generate, generate_pages

PEER = "text-dedup==0.4.0"
VENV = RESULTS / "peers-venv"


def peer_python(given: str | None) -> Path | None:
    """The Python that has text-dedup, if any."""
    for candidate in (given, os.environ.get("TEXT_DEDUP_PYTHON"), str(VENV / "bin" / "python")):
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import text_dedup.minhash"], capture_output=True)
            if probe.returncode == 0:
                return Path(candidate)
    return None


def install() -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", PEER], check=True)
    return VENV / "bin" / "python"


def run_chain(work: Path, workers: int) -> dict:
    out, state = work / "out", work / "state"
    for folder in (out, state):
        shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.run_night", NIGHT, str(work / "raw"), str(out), str(state),
                           "--workers", str(workers)], cwd=ROOT, capture_output=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"the chain failed: {done.stderr.decode()[-2000:]}")
    measured = orjson.loads(done.stdout)
    report = orjson.loads((out / NIGHT / "report.json").read_bytes())
    return {"seconds": round(seconds, 3), "peak_rss_sum_mb": measured["peak_rss_sum_mb"],
            "articles_out": report["articles_out"], "duplicates": report["duplicates"]}


def run_peer(python: Path, work: Path, processes: int) -> dict:
    output, cache = work / "peer-out", work / "peer-cache"
    for folder in (output, cache):
        shutil.rmtree(folder, ignore_errors=True)
    command = [str(python), "-m", "text_dedup.minhash", "--path", "json",
               "--data_files", str(work / "raw" / NIGHT / "*.jsonl"), "--split", "train",
               "--cache_dir", str(cache), "--output", str(output), "--column", "text",
               "--num_perm", "128", "--threshold", "0.8", "--ngram", "5", "--hash_func", "xxh3",
               "--num_proc", str(processes)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, env={**os.environ, "TQDM_DISABLE": "1"})
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"text-dedup failed: {done.stderr.decode()[-2000:]}")
    # Its log (rich) puts the count on the line after the label: "After : minhash.py:309", "19016".
    kept = re.search(r"After\s*:\s*(?:[\w.]+:\d+\s*)?(\d+)", (done.stdout + done.stderr).decode())
    return {"seconds": round(seconds, 3), "kept": int(kept.group(1)) if kept else None}


def run_extract_alone(work: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.trafilatura_alone", str(work / "raw" / NIGHT)], cwd=ROOT,
                          capture_output=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"trafilatura alone failed: {done.stderr.decode()[-2000:]}")
    return {"seconds": round(seconds, 3), **{k: v for k, v in orjson.loads(done.stdout).items() if k != "seconds"}}


def pages_main(args: argparse.Namespace) -> int:
    work = RESULTS / f"peers-pages-{args.pages}"
    night = generate_pages(work / "raw", args.pages)
    print(f"night: {args.pages:,} pages, {night['megabytes']:.1f} MB of HTML", flush=True)
    rounds = []
    for number in range(args.repeat):
        chain = run_chain(work, args.workers)
        peer = run_extract_alone(work)
        rounds.append({"chain": chain, "trafilatura_extract": peer, "ratio": round(peer["seconds"] / chain["seconds"], 2)})
        print(f"  round {number + 1}: chain {chain['seconds']} s, trafilatura.extract alone {peer['seconds']} s: "
              f"{rounds[-1]['ratio']}x", flush=True)
    chain_s = statistics.median(r["chain"]["seconds"] for r in rounds)
    peer_s = statistics.median(r["trafilatura_extract"]["seconds"] for r in rounds)
    results = {"pages": args.pages, "megabytes": round(night["megabytes"], 2), "workers": args.workers,
               "rounds": rounds, "chain_seconds": chain_s, "trafilatura_extract_seconds": peer_s,
               "chain_pages_per_s": round(args.pages / chain_s, 1), "extract_pages_per_s": round(args.pages / peer_s, 1),
               "speedup": round(peer_s / chain_s, 2)}
    path = save(f"peers-pages-{args.pages}-w{args.workers}", results)
    print(f"machine: {machine()}")
    print(f"medians of {args.repeat}: chain {chain_s} s ({results['chain_pages_per_s']} pages/s), trafilatura.extract "
          f"alone {peer_s} s ({results['extract_pages_per_s']} pages/s): the chain is {results['speedup']}x "
          f"(rounds {', '.join(str(r['ratio']) for r in rounds)})")
    print(f"results: {path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1, help="the chain's workers, and text-dedup's processes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (chain, then text-dedup)")
    parser.add_argument("--peer-python", help="a Python with text-dedup 0.4.0")
    parser.add_argument("--install", action="store_true", help=f"pip install {PEER} into {VENV} first")
    parser.add_argument("--pages", type=int, metavar="N", help="a night of N pages against trafilatura.extract alone")
    args = parser.parse_args()
    if args.pages:
        return pages_main(args)
    python = peer_python(args.peer_python) or (install() if args.install else None)
    if python is None:
        print(f"text-dedup is not installed: run python -m bench.peers --install (makes {VENV}), "
              "or give --peer-python", file=sys.stderr)
        return 2
    work = RESULTS / f"peers-{args.articles}"
    night = generate(work / "raw", args.articles, jsonl_files=8)
    print(f"night: {args.articles:,} articles, {night['megabytes']:.1f} MB of JSONL in 8 files", flush=True)
    rounds = []
    for number in range(args.repeat):
        chain = run_chain(work, args.workers)
        peer = run_peer(python, work, args.workers)
        rounds.append({"chain": chain, "text_dedup": peer, "ratio": round(peer["seconds"] / chain["seconds"], 2)})
        print(f"  round {number + 1}: chain {chain['seconds']} s, text-dedup {peer['seconds']} s: "
              f"{rounds[-1]['ratio']}x", flush=True)
    chain_s = statistics.median(r["chain"]["seconds"] for r in rounds)
    peer_s = statistics.median(r["text_dedup"]["seconds"] for r in rounds)
    results = {
        "articles": args.articles, "megabytes": round(night["megabytes"], 2), "workers": args.workers,
        "peer": PEER, "rounds": rounds,
        "chain_seconds": chain_s, "text_dedup_seconds": peer_s, "speedup": round(peer_s / chain_s, 2),
        "chain_peak_rss_sum_mb": max(r["chain"]["peak_rss_sum_mb"] for r in rounds),
        "articles_out": {"chain": rounds[-1]["chain"]["articles_out"], "text_dedup": rounds[-1]["text_dedup"]["kept"]},
    }
    path = save(f"peers-{args.articles}-w{args.workers}", results)
    print(f"machine: {machine()}")
    print(f"medians of {args.repeat}: chain {chain_s} s, text-dedup {peer_s} s: the chain is {results['speedup']}x "
          f"(rounds {', '.join(str(r['ratio']) for r in rounds)}); articles kept: {results['articles_out']}")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
