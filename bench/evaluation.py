"""Scoring dedup output against ground-truth pairs (such as ``bbc/dup_pairs.jsonl``).

A reported pair is a dropped article and the kept article it names (``id``,
``dup_of`` in ``duplicates.jsonl``), in either direction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import orjson

from pipeline.text import words


@dataclass(frozen=True)
class PairScore:
    recall: float  # of truth pairs at or above recall_at
    precision: float  # reported pairs whose true similarity is at least precision_at
    truth_pairs: int
    reported_pairs: int
    missed: tuple[tuple[str, str], ...]
    wrong: tuple[tuple[str, str], ...]


def load_truth(path: Path | str) -> dict[frozenset[str], dict]:
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


@dataclass(frozen=True)
class ShingleScore:
    """Micro precision / recall / F1 over multisets of word n-grams against gold text."""

    precision: float
    recall: float
    f1: float
    pages: int


def word_ngrams(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of lower-cased word n-grams (the boilerplate corpora's measure; words as
    ``pipeline.text`` defines them)."""
    tokens = words(text.lower())
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_counts(output: str, gold: str, n: int = 4) -> tuple[int, int, int]:
    """One page's word n-grams: in both, in the output, in the gold."""
    got, want = word_ngrams(output, n), word_ngrams(gold, n)
    return sum((got & want).values()), sum(got.values()), sum(want.values())


def micro_scores(rows: Iterable[tuple[int, int, int]]) -> tuple[float, float, float]:
    """Micro precision, recall and F1 over pages' :func:`page_counts` (unrounded)."""
    hit = out = gold = 0
    for page_hit, page_out, page_gold in rows:
        hit, out, gold = hit + page_hit, out + page_out, gold + page_gold
    precision = hit / out if out else 0.0
    recall = hit / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_texts(pairs: Iterable[tuple[str, str]], n: int = 4) -> ShingleScore:
    """Score (output, gold) text pairs, micro-averaged over all pages."""
    rows = [page_counts(output, gold, n) for output, gold in pairs]
    precision, recall, f1 = micro_scores(rows)
    return ShingleScore(round(precision, 4), round(recall, 4), round(f1, 4), len(rows))


def segments_kept(output: str, segments: Iterable[str]) -> tuple[int, int]:
    """How many of ``segments`` appear in ``output`` (whitespace-normalised), and of how many."""
    flat = " ".join(output.split())
    segments = [" ".join(s.split()) for s in segments]
    return sum(s in flat for s in segments), len(segments)
