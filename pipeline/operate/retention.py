"""Stage retention: the ``stages/`` of old nights pruned to what people still read.

A night's ``stages/`` holds each stage's own output, several times the size of the raw
input. After a night succeeds, the nights finished before the last ``keep_stages``
ones keep only:

- ``stages/3-clean/dropped.articles.jsonl``: the clean-stage records of the articles
  dropped as duplicates, which ``inspect ... show`` and ``why`` show beside the kept
  article (kept articles are in ``articles.jsonl``, rejections in ``rejected.jsonl``);
- ``stages/5-dedup/history.stats.json``: the mark that the night's history commit is
  done (so the night stays done), and ``stages/run.json``, the settings it ran with;
- ``stages/5-dedup/stats.json`` (what its dedup compared with) and
  ``stages/3-site-lines/counts.json`` (its site-line counts): what ``history rebuild``
  needs to make the night's manifest entry and site-line counts again;
- ``stages/pruned.json``: what was removed, for people.

Everything else of ``stages/`` goes. Outputs (``OUT_DIR/NIGHT/*``) are never touched:
``removed.jsonl`` and ``rejected.jsonl`` are links of their own to the files removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import orjson

from pipeline.io.jsonl import read_jsonl, write_bytes, write_json
from pipeline.report.nightdata import NIGHT_RE

# Tonight's site-line counts, as saved in the state folder (``history rebuild`` restores them).
SITE_COUNTS = "counts.json"
KEPT = ("3-clean/dropped.articles.jsonl", "5-dedup/history.stats.json", "5-dedup/stats.json",
        f"3-site-lines/{SITE_COUNTS}", "run.json", "pruned.json")
DROPPED = "3-clean/dropped.articles.jsonl"


def nights_to_prune(out_dir: Path, keep: int, finished: Callable[[str], bool]) -> list[str]:
    """The finished nights of ``out_dir`` older than its last ``keep`` finished ones whose
    stages are not pruned yet (``keep`` 0: none)."""
    if keep <= 0 or not out_dir.is_dir():
        return []
    nights = sorted(p.name for p in out_dir.iterdir() if NIGHT_RE.match(p.name) and (p / "report.json").is_file())
    done = [night for night in nights if finished(night)]
    return [night for night in done[:-keep] if not (out_dir / night / "stages" / "pruned.json").exists()]


def prune(night_dir: Path) -> int:
    """Prune one finished night's ``stages/``; returns the bytes removed."""
    stages = night_dir / "stages"
    if not stages.is_dir():
        return 0
    dropped = {(d["source"]["file"], d["source"]["index"])
               for d in read_jsonl(night_dir / "duplicates.jsonl") if d.get("source")}
    lines = []
    for path in sorted((stages / "3-clean").glob("shard-*.articles.jsonl")):
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip() and _source_of(line) in dropped:
                    lines.append(line)
    if not (stages / DROPPED).exists() or lines:
        write_bytes(stages / DROPPED, lines)
    removed = 0
    for path in sorted(stages.rglob("*"), reverse=True):  # files before their folders
        relative = path.relative_to(stages).as_posix()
        if path.is_file() and relative not in KEPT:
            removed += path.stat().st_size
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    write_json(stages / "pruned.json", {"kept": list(KEPT[:-1]), "bytes_removed": removed})
    return removed


def prune_old_nights(out_dir: Path, keep: int, finished: Callable[[str], bool]) -> dict[str, int]:
    """Prune every night :func:`nights_to_prune` names; bytes removed per night."""
    return {night: prune(out_dir / night) for night in nights_to_prune(out_dir, keep, finished)}


def _source_of(line: bytes) -> tuple[str, int]:
    source = orjson.loads(line)["source"]
    return source["file"], source["index"]
