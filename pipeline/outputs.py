"""The night's outputs, written once its decisions are made: ``articles.jsonl``,
``duplicates.jsonl``, ``rejected.jsonl``, ``removed.jsonl``, ``report.json`` and
``report.html`` (see the README for their fields). Plain functions: no Luigi here.

The clean stage's articles are streamed shard by shard (a night's text is never in
memory at once) and rewritten as bytes (``Article.output_line``); the articles the
page shows are picked up on the way, and the page is rendered from what the writer
has in hand (``nightdata.InHand``) instead of reading it all back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from pipeline.io.jsonl import (
    READ_BUFFER,
    WRITE_BATCH,
    atomic_writer,
    place_file,
    read_json,
    read_jsonl,
    write_bytes,
    write_json,
    write_jsonl,
)
from pipeline.records import Article
from pipeline.report import html
from pipeline.report.nightdata import InHand, Night
from pipeline.report.summary import build_report

NAMES = ("articles.jsonl", "duplicates.jsonl", "rejected.jsonl", "removed.jsonl", "report.json", "report.html")


@dataclass
class KeptLines:
    """The kept articles' lines for ``articles.jsonl``, in the clean stage's order, with
    the dropped ones' ``duplicates.jsonl`` records on the way.

    Deduplicate decided on the clean stage's articles in this same order, so the n-th
    article is the n-th decision (read as they come: ``decisions`` is an iterator);
    each line's id is checked against its decision's. The articles whose ids are
    ``wanted`` are kept in ``found`` as ``Night.find`` returns them: the kept version if
    there is one, else the first. The earlier nights' articles tonight's superseded,
    decided on after tonight's, are in ``superseded`` once the lines are written.
    """

    paths: Sequence[Path]
    decisions: Iterator[dict[str, Any]]
    wanted: set[str] = field(default_factory=set)
    superseded: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    count: int = 0

    def __iter__(self) -> Iterator[bytes]:
        position = 0
        for path in self.paths:
            batch: list[bytes] = []
            with open(path, "rb", buffering=READ_BUFFER) as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    decision = next(self.decisions, None)
                    if decision is None or decision["status"] == "superseded" or not line.startswith(
                        b'{"id":' + orjson.dumps(decision["id"]) + b","
                    ):
                        raise RuntimeError(
                            f"{path}:{number}: the article is not the one Deduplicate decided on at position "
                            f"{position}; the stage files are out of step (rerun the night: --rerun)"
                        )
                    position += 1
                    if decision["status"] == "kept":
                        output = Article.output_line(line)
                        batch.append(output)
                        if decision["id"] in self.wanted:
                            self.found[decision["id"]] = orjson.loads(output)
                        if len(batch) == WRITE_BATCH:  # one write call per batch, as write_jsonl
                            self.count += len(batch)
                            yield b"".join(batch)
                            batch = []
                    else:
                        record = orjson.loads(line)
                        self.duplicates.append(duplicate_record(decision, record["source"]))
                        if decision["id"] in self.wanted:
                            self.found.setdefault(decision["id"], record)
            self.count += len(batch)
            yield b"".join(batch)
        self.superseded = list(self.decisions)
        if any(d["status"] != "superseded" for d in self.superseded):
            decided = position + sum(d["status"] != "superseded" for d in self.superseded)
            raise RuntimeError(f"Deduplicate decided on {decided} articles, the clean stage has "
                               f"{position}; the stage files are out of step (rerun the night: --rerun)")


def duplicate_record(decision: dict[str, Any], source: dict[str, Any] | None) -> dict[str, Any]:
    """A line of ``duplicates.jsonl`` from a decision (``source``: the dropped article's,
    None for an earlier night's article tonight's superseded)."""
    return {
        "id": decision["id"], "title": decision["title"], "dup_of": decision["dup_of"],
        "dup_of_night": decision["dup_of_night"], "similarity": decision["similarity"],
        "method": decision["method"], "night": decision["night"],
        "superseded": decision["status"] == "superseded", "source": source,
    }


class Rejections:
    """The night's rejections, read as they come (``__iter__``, once or more): the
    report counts them, the page shows the first ``html.MAX_REJECTED`` (``first``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first = [record for record, _ in zip(read_jsonl(path), range(html.MAX_REJECTED))]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path)


@dataclass(frozen=True)
class Gathered:
    """The night's removed lines and rejections, gathered from the shards (stages/3-removed)."""

    rejected: Path
    removed: Path
    top_removed: Path


def write_outputs(folder: Path, date: str, clean_articles: Sequence[Path], decisions_path: Path,
                  gathered: Gathered, stats: dict[str, list[dict[str, Any]]]) -> dict:
    """Write the night's outputs into ``folder`` (``OUT_DIR/DATE``), ``report.html`` last;
    ``stats``: every stage's stats, by stage. Returns the report."""
    started = time.perf_counter()
    # The page's duplicate groups show some of tonight's articles: picked up on the way.
    # The decisions are read twice as they come (the night's are never all in hand), and
    # only the duplicates' are kept: they are what the page and duplicates.jsonl show.
    needed = html.articles_needed([duplicate_record(d, None) for d in read_jsonl(decisions_path)
                                   if d["status"] != "kept"])
    kept = KeptLines(clean_articles, read_jsonl(decisions_path), needed.get(date, set()))
    write_bytes(folder / "articles.jsonl", kept)
    # Earlier nights' articles superseded by tonight's (keep policy latest/longest).
    duplicates = kept.duplicates + [duplicate_record(d, None) for d in kept.superseded]
    write_jsonl(folder / "duplicates.jsonl", duplicates)
    place_file(gathered.rejected, folder / "rejected.jsonl")
    place_file(gathered.removed, folder / "removed.jsonl")
    rejected = Rejections(gathered.rejected)
    # The raw files as the read stage read them: each one's bytes and checksum (``late``).
    inputs = [entry for shard in stats["read"] for entry in shard["files"]]
    report = build_report(date, inputs, stats, rejected, kept.count, time.perf_counter() - started)
    write_json(folder / "report.json", report)
    in_hand = InHand(duplicates=duplicates, rejected=rejected.first, top_removed=read_json(gathered.top_removed),
                     articles=kept.found)
    with atomic_writer(folder / "report.html") as handle:
        handle.write(html.render(Night(folder, in_hand)).encode("utf-8"))
    return report
