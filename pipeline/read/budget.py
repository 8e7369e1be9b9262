"""What one page may cost: seconds and memory, enforced while it is extracted.

trafilatura's time grows faster than the page (a page of 300,000 blocks took 636 s and
1.5 GB), so one hostile page could otherwise hold the night. Inside :func:`page_budget`
a timer looks at the clock and at the process's resident memory every
``TICK_SECONDS``; past either budget it raises :class:`OverBudget` where the extraction
is, and the page becomes a rejection while the night goes on.

The timer is the process's ``SIGALRM``, so the budget holds in the main thread of a
process (a Luigi task's, or a worker process of its pool: where pages are extracted);
elsewhere the page runs unbudgeted. ``OverBudget`` is a ``BaseException``: the
library's own ``except Exception`` blocks do not swallow it.

>>> with page_budget(PageBudget(seconds=0.2, memory_mb=0)):
...     while True:
...         pass
Traceback (most recent call last):
pipeline.read.budget.OverBudget: took more than 0.2 s to extract (page_seconds)
"""

from __future__ import annotations

import resource
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

# Seconds between two looks at the clock and the memory.
TICK_SECONDS = 0.05
_PAGE_BYTES = resource.getpagesize()


@dataclass(frozen=True)
class PageBudget:
    """A page's budget (settings ``page_seconds`` and ``page_memory_mb``; 0: no limit)."""

    seconds: float = 30.0
    memory_mb: int = 1000


class OverBudget(BaseException):
    """A page took more time or memory than its budget; the message says which."""


def resident_bytes() -> int:
    """The process's resident memory now (Linux's /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def page_budget(budget: PageBudget) -> Iterator[None]:
    """Run the block within the budget's seconds and its megabytes more than the process
    held at its start, or raise :class:`OverBudget`."""
    seconds, memory_mb = budget.seconds, budget.memory_mb
    if (seconds <= 0 and memory_mb <= 0) or threading.current_thread() is not threading.main_thread():
        yield
        return
    started, base = time.monotonic(), resident_bytes()
    limit = memory_mb * 1_000_000

    def look(signum, frame) -> None:
        if seconds > 0 and time.monotonic() - started > seconds:
            raise OverBudget(f"took more than {seconds:g} s to extract (page_seconds)")
        if memory_mb > 0 and resident_bytes() - base > limit:
            raise OverBudget(f"needed more than {memory_mb:,} MB to extract (page_memory_mb)")

    previous = signal.signal(signal.SIGALRM, look)
    signal.setitimer(signal.ITIMER_REAL, TICK_SECONDS, TICK_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

