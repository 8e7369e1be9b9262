"""The kept articles of earlier nights, for cross-night dedup (see ``store``)."""

from pipeline.dedup.history.base import HistoryMismatch, Superseded, in_window, settings_fingerprint
from pipeline.dedup.history.checking import (
    all_problems,
    committed_aside,
    keep_committed_counts,
    site_line_sanity,
    window_problems,
)
from pipeline.dedup.history.files import HistoryDamaged
from pipeline.dedup.history.manifest import (
    REBUILD_HINT,
    CommitInfo,
    NightEntry,
    Problem,
    gaps_between,
    later_dependents,
    stale_nights,
    window_digest,
)
from pipeline.dedup.history.rebuild import RebuildSources, rebuild
from pipeline.dedup.history.store import History, open_history

__all__ = [
    "REBUILD_HINT", "CommitInfo", "History", "HistoryDamaged", "HistoryMismatch", "NightEntry", "Problem",
    "RebuildSources", "Superseded", "all_problems", "committed_aside", "gaps_between", "in_window",
    "keep_committed_counts", "later_dependents", "open_history", "rebuild", "settings_fingerprint",
    "site_line_sanity", "stale_nights", "window_digest", "window_problems",
]
