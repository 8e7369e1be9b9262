"""The history's manifest: what it says of each committed night, and what follows from it.

``state_dir/history/MANIFEST.json`` lists the nights committed, in order: for each, its
article count, every file's size and checksum, what its dedup compared with (the first
night of its window, how many nights it read and their digests hashed together, and the
gaps: nights of its window that had no raw folder) and the checksum of its site-line
counts. A night is in the history when the manifest lists it, and only then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import xxhash

from pipeline.dedup.history.base import in_window
from pipeline.dedup.history.files import FileSum

MANIFEST_NAME = "MANIFEST.json"
MANIFEST_FORMAT = 1
REBUILD_HINT = "python -m pipeline history rebuild"


@dataclass
class NightEntry:
    """What the manifest says of one committed night."""

    articles: int
    superseded: int
    digest: str  # files_digest of the folder's files
    files: dict[str, FileSum]
    site_lines: FileSum | None = None  # state_dir/site_lines/NIGHT.json as committed
    compared_with: dict[str, Any] | None = None  # its dedup's window, see window_digest
    gaps: list[str] | None = None  # nights of its window that had no raw folder

    def to_json(self) -> dict[str, Any]:
        """The entry as the manifest holds it, with its own checksum (``sum``): an entry
        edited by hand, or damaged, is found (:meth:`from_json`)."""
        data = {
            "articles": self.articles, "superseded": self.superseded, "digest": self.digest,
            "files": {name: list(s) for name, s in sorted(self.files.items())},
            "site_lines": list(self.site_lines) if self.site_lines else None,
            "compared_with": self.compared_with, "gaps": self.gaps,
        }
        return {**data, "sum": entry_sum(data)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "NightEntry":
        """An entry read back; raises ``ValueError`` when it is not the entry its checksum
        was made of (an entry of an earlier version, without one, is taken as it is)."""
        fields = {key: value for key, value in data.items() if key != "sum"}
        if "sum" in data and data["sum"] != entry_sum(fields):
            raise ValueError("its entry differs from what was committed (edited by hand, or damaged)")
        return cls(
            articles=int(data["articles"]), superseded=int(data["superseded"]), digest=str(data["digest"]),
            files={name: FileSum(int(s[0]), str(s[1])) for name, s in data["files"].items()},
            site_lines=FileSum(int(data["site_lines"][0]), str(data["site_lines"][1])) if data.get("site_lines")
            else None,
            compared_with=data.get("compared_with"), gaps=data.get("gaps"),
        )


def entry_sum(data: dict[str, Any]) -> str:
    """The checksum of a manifest entry's fields (keys sorted, as JSON).

    >>> entry_sum({"articles": 519, "digest": "ab"}) != entry_sum({"articles": 518, "digest": "ab"})
    True
    """
    return xxhash.xxh3_64_hexdigest(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


@dataclass
class Problem:
    """Something wrong with the history; ``night`` is None when it concerns the whole of it."""

    night: str | None
    message: str
    warning: bool = False  # stale, not damaged: the night's results may be out of date

    def __str__(self) -> str:
        return self.message


@dataclass
class CommitInfo:
    """What a night's dedup read, recorded with its commit (see NightEntry)."""

    compared_with: dict[str, Any] | None = None
    gaps: list[str] | None = None
    site_lines: Path | None = None


def window_digest(committed: dict[str, NightEntry], night: str, since: str | None) -> dict[str, Any]:
    """What a night's dedup compared with: the first night of its window (None: all
    earlier nights), how many committed nights it read, and their digests hashed
    together. Recomputed later, a different digest means the window changed since."""
    window = [m for m in committed if in_window(m, None, night, since)]
    listing = "".join(f"{m}\t{committed[m].digest}\n" for m in window)
    return {"since": since, "nights": len(window), "digest": xxhash.xxh3_64_hexdigest(listing.encode())}


def stale_nights(committed: dict[str, NightEntry]) -> list[Problem]:
    """Nights whose window has changed since their dedup ran (an earlier night committed
    again, or committed late): their duplicates may be out of date."""
    problems = []
    for night, entry in committed.items():
        if not entry.compared_with:
            continue
        now = window_digest(committed, night, entry.compared_with.get("since"))
        if now["digest"] == entry.compared_with.get("digest"):
            continue
        late = [gap for gap in entry.gaps or () if gap in committed]
        why = (f"{', '.join(late)} had no raw data then and {'is' if len(late) == 1 else 'are'} committed now"
               if late else "an earlier night it compared with was committed again since")
        problems.append(Problem(night, f"night {night} is stale: {why} (rerun it and the nights after it, in "
                                       f"order: python -m pipeline rerun {night} --and-later)", warning=True))
    return problems


def later_dependents(committed: dict[str, NightEntry], night: str) -> list[str]:
    """The committed nights after ``night`` whose dedup window covers it: rerunning
    ``night`` leaves their duplicates out of date."""
    return [
        later for later, entry in committed.items()
        if later > night and (entry.compared_with is None or in_window(night, None, later, entry.compared_with.get("since")))
    ]


def gaps_between(first: str | None, night: str, present: set[str]) -> list[str]:
    """The days from ``first`` up to (not including) ``night`` that are not in ``present``.

    >>> gaps_between("2026-11-24", "2026-11-28", {"2026-11-24", "2026-11-26"})
    ['2026-11-25', '2026-11-27']
    """
    if first is None or first >= night:
        return []
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(night)
    gaps = []
    while day < end:
        if day.isoformat() not in present:
            gaps.append(day.isoformat())
        day += dt.timedelta(days=1)
    return gaps
