"""Encoding repair throughput against plain ftfy, on the BBC corpus.

    python -m bench.encoding

Reads ``../shared/corpora/bbc/raw`` (2,225 real articles; falls back to the samples),
runs the repair stage (``pipeline.encoding.repair``) and ``ftfy.fix_text`` with the same
settings on the same texts, and prints MB/s of each on the texts that need no repair
and on all texts, their ratio, and whether every output is byte-identical.
"""

from __future__ import annotations

import sys

import ftfy

from bench.common import CORPORA, ROOT, best_of, machine, save
from pipeline.read.decode import decode_bytes
from pipeline.repair import FTFY_CONFIG, needs_repair, repair

PLAIN = FTFY_CONFIG._replace(explain=False)
REPEATS = 3


def load_texts() -> tuple[str, list[str]]:
    root = CORPORA / "bbc" / "raw"
    if not root.is_dir():
        root = ROOT / "samples"
    paths = sorted(p for p in root.rglob("*") if p.suffix in (".txt", ".TXT"))
    return str(root), [decode_bytes(p.read_bytes()).text for p in paths]


def measure(texts: list[str]) -> dict:
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    ftfy_seconds, ftfy_out = best_of(REPEATS, lambda: [ftfy.fix_text(t, PLAIN) for t in texts])
    ours_seconds, ours_out = best_of(REPEATS, lambda: [repair(t).text for t in texts])
    return {
        "texts": len(texts),
        "megabytes": round(megabytes, 3),
        "ftfy_mb_per_s": round(megabytes / ftfy_seconds, 2),
        "repair_mb_per_s": round(megabytes / ours_seconds, 2),
        "speedup": round(ftfy_seconds / ours_seconds, 1),
        "identical_outputs": sum(a == b for a, b in zip(ftfy_out, ours_out)),
    }


def main() -> int:
    source, texts = load_texts()
    clean = [t for t in texts if not needs_repair(t)]
    results = {"source": source, "clean_text": measure(clean), "all_text": measure(texts)}
    path = save("encoding", results)
    print(f"machine: {machine()}")
    print(f"corpus:  {source}")
    print(f"{'texts':<12}{'n':>6}{'MB':>8}{'ftfy MB/s':>11}{'repair MB/s':>13}{'speedup':>9}{'identical':>11}")
    for label in ("clean_text", "all_text"):
        r = results[label]
        print(f"{label:<12}{r['texts']:>6}{r['megabytes']:>8}{r['ftfy_mb_per_s']:>11}"
              f"{r['repair_mb_per_s']:>13}{r['speedup']:>8}x{r['identical_outputs']:>11}")
    print(f"results: {path}")
    ok = results["clean_text"]["speedup"] >= 10 and all(
        results[k]["identical_outputs"] == results[k]["texts"] for k in ("clean_text", "all_text")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
