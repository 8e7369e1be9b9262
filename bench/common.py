"""What every benchmark reports beside its figures: the machine, and where results go."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

from pipeline.io.jsonl import write_json

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ROOT.parent / "shared" / "corpora"
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()}


def best_of(repeats: int, function: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeats`` runs (seconds) and the last result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def save(name: str, results: dict[str, Any]) -> Path:
    """Write results to bench/results/<name>.json so runs can be compared."""
    path = RESULTS / f"{name}.json"
    write_json(path, {"machine": machine(), **results})
    return path
