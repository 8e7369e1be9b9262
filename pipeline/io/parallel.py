"""Run a pure function over consecutive chunks of a list, in a process pool if asked.

The result is in input order whatever the number of processes, so outputs stay
byte-identical; the function must be picklable (module-level), its results too.

>>> run_chunks(sum, [[1, 2], [3], [4, 5]], processes=1)
[3, 3, 9]
"""

from __future__ import annotations

import collections
import ctypes
import functools
import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Chunks per process: enough to balance uneven chunks, few enough to keep pickling cheap.
CHUNKS_PER_PROCESS = 4
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


def chunked(items: Sequence[T], processes: int, minimum: int = 50) -> list[Sequence[T]]:
    """Split items into consecutive chunks for ``processes`` processes.

    >>> [len(chunk) for chunk in chunked(range(600), processes=1)]
    [256, 256, 88]
    """
    if processes <= 1 or len(items) <= minimum:
        size = MAX_CHUNK
    else:
        size = min(MAX_CHUNK, max(minimum, -(-len(items) // (processes * CHUNKS_PER_PROCESS))))
    return [items[start : start + size] for start in range(0, len(items), size)]


def read_in_chunks(items: Iterable[T], processes: int) -> Iterable[Sequence[T]]:
    """:func:`chunked` for items read from a file: with one process the chunks are read
    as they are used, so a task holds one chunk of records at a time, and reuses its
    memory, instead of a whole shard.

    >>> [len(chunk) for chunk in read_in_chunks(iter(range(600)), processes=1)]
    [256, 256, 88]
    """
    if processes > 1:
        return chunked(list(items), processes)
    return _batches(iter(items), MAX_CHUNK)


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


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
    if processes <= 1:
        for chunk in chunks:
            result = function(chunk)
            on_chunk(len(chunk))
            yield result
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks:
            pending.append((len(chunk), pool.submit(function, chunk)))
            if len(pending) >= processes * CHUNKS_AHEAD:
                size, future = pending.popleft()
                yield future.result()
                on_chunk(size)
        while pending:
            size, future = pending.popleft()
            yield future.result()
            on_chunk(size)


def batches(items: Iterable[T], size: int = MAX_CHUNK) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last shorter).

    >>> [len(batch) for batch in batches(range(600))]
    [256, 256, 88]
    """
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def run_chunks(
    function: Callable[[Sequence[T]], R],
    chunks: Iterable[Sequence[T]],
    processes: int,
    on_chunk: Callable[[int], None] = lambda size: None,
) -> list[R]:
    """``[function(chunk) for chunk in chunks]``, with ``processes`` processes;
    ``on_chunk(len(chunk))`` after each chunk, in order (for progress reports).
    With one process the chunks may be any iterable, consumed one at a time."""
    results: list[R] = []
    if processes > 1:
        chunks = list(chunks)
    if processes <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            results.append(function(chunk))
            on_chunk(len(chunk))
        return results
    # The forked processes inherit the chunks: only their numbers travel to them (the
    # results come back pickled; functions that return bytes keep that cheap).
    global _INHERITED
    _INHERITED = chunks
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
            calls = pool.map(functools.partial(_call_on_inherited, function), range(len(chunks)))
            for chunk, result in zip(chunks, calls):
                results.append(result)
                on_chunk(len(chunk))
    finally:
        _INHERITED = None
    return results


_INHERITED: Sequence | None = None


def _call_on_inherited(function: Callable[[Sequence[T]], R], index: int) -> R:
    assert _INHERITED is not None
    return function(_INHERITED[index])
