"""A finished night's outputs, loaded for people: the inspector and the HTML report.

Reads only what the pipeline wrote (``OUT_DIR/YYYY-MM-DD/``), never the raw input, so it
works on a copy of the outputs on another machine.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from pipeline.io.jsonl import read_json, read_jsonl

NIGHT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TREND_NIGHTS = 14
# Lines shown per rule among the most removed.
TOP_REMOVED = 3


class NightNotFound(FileNotFoundError):
    pass


@dataclass(frozen=True)
class WordDiff:
    """A word-level comparison: (operation, left words, right words) runs."""

    runs: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, left: str, right: str) -> "WordDiff":
        a, b = left.split(), right.split()
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        return cls(tuple(
            (op, " ".join(a[i1:i2]), " ".join(b[j1:j2])) for op, i1, i2, j1, j2 in matcher.get_opcodes()
        ))

    def changes(self) -> int:
        return sum(op != "equal" for op, _, _ in self.runs)


@dataclass
class InHand:
    """What a night's writer has in hand as it renders the page: the records it has just
    written (exactly as in the files: the duplicates, and the first rejections, as many as
    the page shows), the most removed lines, and the articles the page shows
    (``report.html.articles_needed``), so the page is not made by reading them back."""

    duplicates: list[dict[str, Any]]
    rejected: list[dict[str, Any]]  # the first html.MAX_REJECTED
    top_removed: dict[str, list[tuple[str, int]]]
    articles: dict[str, dict[str, Any]]  # by id, as :meth:`Night.find` returns them


class Night:
    """One night's output folder (and, for its writer, what it has in hand)."""

    def __init__(self, folder: Path | str, in_hand: InHand | None = None) -> None:
        self.folder = Path(folder)
        if not (self.folder / "report.json").is_file():
            raise NightNotFound(f"{self.folder} is not a finished night (no report.json)")
        self.date = self.folder.name
        self.in_hand = in_hand

    @functools.cached_property
    def report(self) -> dict[str, Any]:
        return read_json(self.folder / "report.json")

    def _records(self, name: str) -> list[dict[str, Any]]:
        path = self.folder / name
        return list(read_jsonl(path)) if path.exists() else []

    def articles(self) -> Iterator[dict[str, Any]]:
        """The night's clean unique articles, read as they are used (nights are large)."""
        path = self.folder / "articles.jsonl"
        if path.exists():
            yield from read_jsonl(path)

    @functools.cached_property
    def duplicates(self) -> list[dict[str, Any]]:
        return self.in_hand.duplicates if self.in_hand else self._records("duplicates.jsonl")

    @functools.cached_property
    def rejected(self) -> list[dict[str, Any]]:
        return self.in_hand.rejected if self.in_hand else self._records("rejected.jsonl")

    @functools.cached_property
    def removed(self) -> list[dict[str, Any]]:
        return self._records("removed.jsonl")

    def cleaned(self) -> Iterator[dict[str, Any]]:
        """Every article after cleaning, kept or not (the clean stage's output)."""
        for path in sorted((self.folder / "stages" / "3-clean").glob("*.articles.jsonl")):
            yield from read_jsonl(path)

    def find(self, ids: set[str]) -> dict[str, dict[str, Any]]:
        """Articles by id, in one pass over the files: the kept version when there is
        one (input ids may repeat), else the cleaned one (a dropped duplicate)."""
        known = self.in_hand.articles if self.in_hand else {}
        found = {i: known[i] for i in ids if i in known}
        if len(found) == len(ids):
            return found
        for article in _with_ids(self.folder / "articles.jsonl", ids - set(found)):
            found[article["id"]] = article
        missing = ids - set(found)
        if missing:
            for path in sorted((self.folder / "stages" / "3-clean").glob("*.articles.jsonl")):
                for article in _with_ids(path, missing):
                    found.setdefault(article["id"], article)
        return found

    def article(self, article_id: str) -> dict[str, Any] | None:
        """An article by id (see :meth:`find`)."""
        return self.find({article_id}).get(article_id)

    def removed_lines(self, article_id: str) -> list[dict[str, Any]]:
        return [r for r in self.removed if r["id"] == article_id]

    def duplicate(self, article_id: str) -> dict[str, Any] | None:
        return next((d for d in self.duplicates if d["id"] == article_id and not d.get("superseded")), None) or next(
            (d for d in self.duplicates if d["id"] == article_id), None
        )

    def rejections(self, article_id: str) -> list[dict[str, Any]]:
        return [r for r in self.rejected if r.get("id") == article_id]

    def sibling(self, date: str) -> "Night | None":
        try:
            return Night(self.folder.parent / date)
        except NightNotFound:
            return None

    def previous(self, count: int = TREND_NIGHTS - 1) -> list["Night"]:
        """The finished nights before this one in the same output folder (oldest first)."""
        dates = sorted(
            p.name for p in self.folder.parent.iterdir()
            if p.is_dir() and NIGHT_RE.match(p.name) and p.name < self.date and (p / "report.json").is_file()
        )
        return [Night(self.folder.parent / d) for d in dates[-count:]]

    def top_removed(self, per_rule: int = TOP_REMOVED) -> dict[str, list[tuple[str, int]]]:
        """Per rule, its most frequently removed lines (text, count)."""
        if self.in_hand and per_rule == TOP_REMOVED:
            return self.in_hand.top_removed
        return top_removed(self.removed, per_rule)

    def duplicate_groups(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(kept id, its night, the articles dropped as its duplicates), largest first."""
        return duplicate_groups(self.duplicates)


def top_removed(removed: Iterable[dict[str, Any]], per_rule: int = TOP_REMOVED) -> dict[str, list[tuple[str, int]]]:
    """Records of ``removed.jsonl`` counted: per rule, its most frequently removed lines
    (text with its spaces squeezed, count), most frequent first."""
    by_rule: dict[str, Counter] = defaultdict(Counter)
    for record in removed:
        by_rule[record["rule"]][" ".join(record["text"].split())] += 1
    return {
        rule: sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:per_rule]
        for rule, counter in sorted(by_rule.items())
    }


def duplicate_groups(duplicates: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Records of ``duplicates.jsonl`` grouped: (kept id, its night, the records dropped as
    its duplicates), largest first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in duplicates:
        groups[(record["dup_of"], record["dup_of_night"])].append(record)
    return sorted(
        ((kept, night, members) for (kept, night), members in groups.items()),
        key=lambda group: (-len(group[2]), group[0]),
    )


_ID_START = b'{"id":"'


def _with_ids(path: Path, ids: set[str]) -> Iterator[dict[str, Any]]:
    r"""The records of a JSONL file whose id is in ``ids``. A line the pipeline wrote starts
    with its id, so most lines are skipped without being parsed; a line that does not
    start so, or whose id holds an escape, is parsed.

    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = path.write_bytes(b'{"id":"a","n":1}\n{"n":2,"id":"b"}\n{"id":"c\\"d"}\n')
    >>> [r.get("n", r["id"]) for r in _with_ids(path, {"b", 'c"d'})]
    [2, 'c"d']
    """
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for line in handle:
            if line.startswith(_ID_START):
                end = line.find(b'"', len(_ID_START))
                raw = line[len(_ID_START) : end]
                if end > 0 and b"\\" not in raw and raw.decode("utf-8") not in ids:
                    continue
            if line.strip():
                record = orjson.loads(line)
                if record.get("id") in ids:
                    yield record


def shorten_equal(text: str, context: int, unit: str = "words") -> str:
    """A run of words the two sides of a diff share, its middle left out beyond
    ``context`` words at each end.

    >>> shorten_equal("a b c d e f g", 2, "same words")
    'a b … (3 same words) … f g'
    """
    words = text.split()
    if len(words) <= 2 * context:
        return text
    return " ".join(words[:context]) + f" … ({len(words) - 2 * context} {unit}) … " + " ".join(words[-context:])


def summary(night: Night) -> dict[str, Any]:
    """The figures of a night at a glance, from its report."""
    report = night.report
    articles_in = report["articles_in"]
    duplicates = sum(report["duplicates"].values())
    return {
        "date": night.date,
        "files": report["files"],
        "articles_in": articles_in,
        "articles_out": report["articles_out"],
        "repaired": report["repaired"],
        "rejected": report["rejected"],
        "rejected_by_reason": report["rejected_by_reason"],
        "duplicates": report["duplicates"],
        "duplicate_rate": round(duplicates / articles_in, 4) if articles_in else 0.0,
        "lines_removed": report["lines_removed"],
    }
