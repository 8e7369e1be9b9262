"""The night's ``report.json``: counts per stage and rule, and seconds per stage.

Everything in the report is derived from the stages' own stats files, so the
counts are the counts the stages saw. Only ``seconds`` varies between two runs
of the same input.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence


def _sum_counters(dicts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for d in dicts:
        total.update(d)
    return dict(sorted(total.items()))


def build_report(
    date: str,
    files: Sequence[dict[str, Any]],
    stats: dict[str, list[dict[str, Any]]],
    rejected: Iterable[dict[str, Any]],
    articles_out: int,
    write_seconds: float,
) -> dict[str, Any]:
    """Assemble the report from per-task stats (``{stage: [{"counts", "seconds"}, ...]}``);
    ``files`` is the manifest of the raw files read (``file``, ``bytes``)."""

    def counts(stage: str) -> list[dict[str, Any]]:
        return [s["counts"] for s in stats[stage]]

    read, repair, clean = counts("read"), counts("repair"), counts("clean")
    dedup = counts("dedup")[0]
    rejected_by_stage: Counter[str] = Counter()
    rejected_by_reason: Counter[str] = Counter()
    for record in rejected:  # one pass: they are read as they come
        rejected_by_stage[record["stage"]] += 1
        rejected_by_reason[_reason_kind(record["reason"])] += 1
    seconds = {stage: round(sum(s["seconds"] for s in stats[stage]), 3) for stage in stats}
    seconds["write"] = round(write_seconds, 3)
    return {
        "date": date,
        "files": len(files),
        "articles_in": sum(c["articles"] for c in read),
        "pages": sum(c.get("pages", 0) for c in read),
        "warc_skipped": _sum_counters([s.get("warc", {}).get("skipped", {}) for s in stats["read"]]),
        "repaired": sum(c["repaired"] for c in repair),
        "encoding_fixes": _sum_counters([c["fixes"] for c in repair]),
        "lines_removed": _sum_counters([c.get("lines_removed", {}) for c in read] + [c["lines_removed"] for c in clean]),
        "rejected_short": sum(c["rejected"] for c in clean),
        "duplicates": dedup["duplicates"],
        "articles_out": articles_out,
        "rejected": sum(rejected_by_stage.values()),
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


def summary_line(report: dict[str, Any], html_path: str, done_before: bool = False) -> str:
    """One line about a finished night, for the end of a run's log.

    >>> summary_line({"date": "2026-11-27", "articles_in": 1135, "articles_out": 1087,
    ...               "duplicates": {"exact": 45, "minhash": 3}, "rejected": 2,
    ...               "seconds": {"read": 2.0, "write": 0.25}}, "out/2026-11-27/report.html")
    'night 2026-11-27: 1,135 articles in, 1,087 out, 48 duplicates (45 exact, 3 minhash), 2 rejected, 2.25 s: out/2026-11-27/report.html'
    """
    duplicates = report["duplicates"]
    methods = ", ".join(f"{count:,} {method}" for method, count in sorted(duplicates.items()))
    seconds = sum(report.get("seconds", {}).values())
    done = "already done: " if done_before else ""
    return (
        f"night {report['date']}: {done}{report['articles_in']:,} articles in, {report['articles_out']:,} out, "
        f"{sum(duplicates.values()):,} duplicates ({methods}), {report['rejected']:,} rejected, "
        f"{round(seconds, 2)} s: {html_path}"
    )
