"""The night's ``report.json``: counts per stage and rule, and seconds per stage.

Everything in the report is derived from the stages' own stats files, so the
counts are the counts the stages saw. Only ``seconds`` varies between two runs
of the same input.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence


def _sum_counters(dicts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for d in dicts:
        total.update(d)
    return dict(sorted(total.items()))


def build_report(
    date: str,
    files: Sequence[dict[str, Any]],
    stats: dict[str, list[dict[str, Any]]],
    rejected: Sequence[dict[str, Any]],
    articles_out: int,
    write_seconds: float,
) -> dict[str, Any]:
    """Assemble the report from per-task stats (``{stage: [{"counts", "seconds"}, ...]}``);
    ``files`` is the manifest of the raw files read (``file``, ``bytes``)."""

    def counts(stage: str) -> list[dict[str, Any]]:
        return [s["counts"] for s in stats[stage]]

    read, repair, clean = counts("read"), counts("repair"), counts("clean")
    dedup = counts("dedup")[0]
    rejected_by_stage = Counter(r["stage"] for r in rejected)
    rejected_by_reason = Counter(_reason_kind(r["reason"]) for r in rejected)
    seconds = {stage: round(sum(s["seconds"] for s in stats[stage]), 3) for stage in stats}
    seconds["write"] = round(write_seconds, 3)
    return {
        "date": date,
        "files": len(files),
        "articles_in": sum(c["articles"] for c in read),
        "repaired": sum(c["repaired"] for c in repair),
        "encoding_fixes": _sum_counters([c["fixes"] for c in repair]),
        "lines_removed": _sum_counters([c["lines_removed"] for c in clean]),
        "rejected_short": sum(c["rejected"] for c in clean),
        "duplicates": dedup["duplicates"],
        "articles_out": articles_out,
        "rejected": len(rejected),
        "rejected_by_stage": dict(sorted(rejected_by_stage.items())),
        "rejected_by_reason": dict(sorted(rejected_by_reason.items())),
        "site_lines": counts("site_lines")[0],
        "dedup": {k: v for k, v in dedup.items() if k not in ("duplicates",)},
        "inputs": list(files),
        "seconds": seconds,
    }


def _reason_kind(reason: str) -> str:
    """A reason without its particulars: 'malformed JSON: unexpected ...' -> 'malformed JSON'."""
    return reason.split(":", 1)[0]
