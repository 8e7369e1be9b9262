"""Scoring dedup output against ground-truth pairs (such as ``bbc/dup_pairs.jsonl``).

A reported pair is a dropped article and the kept article it names (``id``,
``dup_of`` in ``duplicates.jsonl``), in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import orjson


@dataclass(frozen=True)
class PairScore:
    recall: float  # of truth pairs at or above recall_at
    precision: float  # reported pairs whose true similarity is at least precision_at
    truth_pairs: int
    reported_pairs: int
    missed: tuple[tuple[str, str], ...]
    wrong: tuple[tuple[str, str], ...]


def load_truth(path: Path | str, field: str = "jaccard_word5") -> dict[frozenset[str], dict]:
    """Ground-truth pairs by unordered pair of ids."""
    truth = {}
    for line in Path(path).read_bytes().splitlines():
        record = orjson.loads(line)
        truth[frozenset((record["a"], record["b"]))] = record
    return truth


def score_pairs(
    reported: Iterable[tuple[str, str]],
    truth: dict[frozenset[str], dict],
    recall_at: float = 0.85,
    precision_at: float = 0.7,
    field: str = "jaccard_word5",
    within: set[frozenset[str]] | None = None,
) -> PairScore:
    """Recall of truth pairs with similarity >= ``recall_at`` (optionally only those in
    ``within``), and precision of reported pairs (true similarity >= ``precision_at``)."""
    reported_set = {frozenset(p) for p in reported}
    wanted = {p for p, r in truth.items() if r[field] >= recall_at and (within is None or p in within)}
    missed = sorted(tuple(sorted(p)) for p in wanted - reported_set)
    wrong = sorted(
        tuple(sorted(p)) for p in reported_set if truth.get(p, {}).get(field, 0.0) < precision_at
    )
    return PairScore(
        recall=1.0 - len(missed) / len(wanted) if wanted else 1.0,
        precision=1.0 - len(wrong) / len(reported_set) if reported_set else 1.0,
        truth_pairs=len(wanted),
        reported_pairs=len(reported_set),
        missed=tuple(missed),
        wrong=tuple(wrong),
    )
