"""Run a pure function over consecutive chunks of a list, in a process pool if asked.

The result is in input order whatever the number of processes, so outputs stay
byte-identical; the function and its arguments must be picklable (module-level).

>>> run_chunks(sum, [[1, 2], [3], [4, 5]], processes=1)
[3, 3, 9]
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Chunks per process: enough to balance uneven chunks, few enough to keep pickling cheap.
CHUNKS_PER_PROCESS = 4


def chunked(items: Sequence[T], processes: int, minimum: int = 50) -> list[Sequence[T]]:
    """Split items into consecutive chunks for ``processes`` processes."""
    if processes <= 1 or len(items) <= minimum:
        return [items] if items else []
    size = max(minimum, -(-len(items) // (processes * CHUNKS_PER_PROCESS)))
    return [items[start : start + size] for start in range(0, len(items), size)]


def run_chunks(
    function: Callable[[Sequence[T]], R],
    chunks: Sequence[Sequence[T]],
    processes: int,
    on_chunk: Callable[[int], None] = lambda size: None,
) -> list[R]:
    """``[function(chunk) for chunk in chunks]``, with ``processes`` processes;
    ``on_chunk(len(chunk))`` after each chunk, in order (for progress reports)."""
    results: list[R] = []
    if processes <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            results.append(function(chunk))
            on_chunk(len(chunk))
        return results
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        for chunk, result in zip(chunks, pool.map(function, chunks)):
            results.append(result)
            on_chunk(len(chunk))
    return results
