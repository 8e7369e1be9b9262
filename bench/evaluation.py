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


def score_texts(pairs: Iterable[tuple[str, str]], n: int = 4) -> ShingleScore:
    """Score (output, gold) text pairs, micro-averaged over all pages."""
    true_positive = false_positive = false_negative = pages = 0
    for output, gold in pairs:
        got, want = word_ngrams(output, n), word_ngrams(gold, n)
        overlap = sum((got & want).values())
        true_positive += overlap
        false_positive += sum(got.values()) - overlap
        false_negative += sum(want.values()) - overlap
        pages += 1
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ShingleScore(round(precision, 4), round(recall, 4), round(f1, 4), pages)


def segments_kept(output: str, segments: Iterable[str]) -> tuple[int, int]:
    """How many of ``segments`` appear in ``output`` (whitespace-normalised), and of how many."""
    flat = " ".join(output.split())
    segments = [" ".join(s.split()) for s in segments]
    return sum(s in flat for s in segments), len(segments)
