"""Run a pure function over chunks as they come, in a process pool if asked
(:func:`run_stream`), and the process settings the night's tasks share.

The results are in input order whatever the number of processes, so outputs stay
byte-identical; the function must be picklable (module-level), its results too.
"""

from __future__ import annotations

import collections
import ctypes
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")

# Items in a chunk at most. A process then reuses its memory from one chunk to the next:
# a fresh one (Luigi forks one per task when it has several workers) pays a page fault
# for every page it touches first. Measured on a 2,500-article clean shard in a forked
# process: 30,000 faults and +11 % time in one chunk, 5,500 faults and none in chunks
# of 250.
MAX_CHUNK = 256


# glibc malloc settings for the pipeline's processes (see tune_malloc).
MALLOC_MMAP_THRESHOLD = 32 << 20
MALLOC_TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_malloc() -> bool:
    """Keep the memory a process frees for its next allocations (glibc only; returns
    whether it applied).

    By default glibc serves each block over 128 KiB (numpy's arrays, the JSONL batches)
    with a fresh mmap and unmaps it when freed, and gives the top of the heap back to
    the system; every reuse then faults the pages in again. A long-lived process
    adapts the first limit upwards by itself, but the process Luigi forks for each task
    starts from its parent's settings. Set explicitly, they are inherited by the forked
    tasks: blocks up to 32 MiB come from the heap, and up to 256 MiB of free heap is
    kept. Measured on a 20,000-article night with a process forked per task: 550,000
    page faults -> 400,000."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD))


# Chunks handed to the processes ahead of the one being waited for, per process.
CHUNKS_AHEAD = 2


def run_stream(
    function: Callable[[Sequence[T]], R],
    chunks: Iterable[Sequence[T]],
    processes: int,
    on_chunk: Callable[[int], None] = lambda size: None,
) -> Iterator[R]:
    """``function(chunk)`` for each chunk, in order, as the chunks come (from a file being
    read): with several processes, at most ``CHUNKS_AHEAD`` chunks a process are in
    flight, so memory depends on the chunk, not on the input. ``on_chunk(len(chunk))``
    after each result.

    >>> list(run_stream(sum, iter([[1, 2], [3], [4, 5]]), processes=2))
    [3, 3, 9]
    """
    for _, result in run_carried(function, ((chunk, None) for chunk in chunks), processes, on_chunk):
        yield result


def run_carried(
    function: Callable[[Sequence[T]], R],
    chunks: Iterable[tuple[Sequence[T], C]],
    processes: int,
    on_chunk: Callable[[int], None] = lambda size: None,
) -> Iterator[tuple[C, R]]:
    """:func:`run_stream` over ``(chunk, carried)`` pairs: ``function(chunk)`` runs (in
    the pool, with several processes) and ``carried``, what the caller knows of the
    chunk (kept in this process, never sent), comes back beside its result.

    >>> list(run_carried(sum, iter([([1, 2], "a"), ([3], "b")]), processes=2))
    [('a', 3), ('b', 3)]
    """
    if processes <= 1:
        for chunk, carried in chunks:
            result = function(chunk)
            on_chunk(len(chunk))
            yield carried, result
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        pending: collections.deque = collections.deque()
        for chunk, carried in chunks:
            pending.append((len(chunk), carried, pool.submit(function, chunk)))
            if len(pending) >= processes * CHUNKS_AHEAD:
                size, carried, future = pending.popleft()
                yield carried, future.result()
                on_chunk(size)
        while pending:
            size, carried, future = pending.popleft()
            yield carried, future.result()
            on_chunk(size)


def batches(items: Iterable[T], size: int = MAX_CHUNK) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last shorter).

    >>> [len(batch) for batch in batches(range(600))]
    [256, 256, 88]
    """
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
