"""The keep policy: which article of a duplicate group survives, without chaining.

Articles are visited in the policy's order and one is dropped only when it matches an
article already *kept*, so ``dup_of`` always names a kept article. Candidates come from
an LSH index over band fingerprints (one per band key of datasketch's ``MinHashLSH``,
tested against it: the same candidates); every candidate is confirmed by its real
Jaccard similarity before anything is dropped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import DedupResult, Doc, Match
from pipeline.dedup.fingerprint import band_fingerprints, jaccard


def priority(keep: str) -> Callable[[Doc], tuple]:
    """Sort key of a keep policy: the article visited first survives its group.

    - ``first``: earliest night, then input order;
    - ``longest``: most words, then earliest night, then input order;
    - ``latest``: latest night, then latest ``published`` (when given), then last in input order.
    """
    if keep == "first":
        return lambda d: (d.night, d.rank)
    if keep == "longest":
        return lambda d: (-d.n_words, d.night, d.rank)
    if keep == "latest":
        return lambda d: _Reversed((d.night, d.published or "", d.rank))
    raise ValueError(f"unknown keep policy {keep!r}")


@dataclass(frozen=True, order=False)
class _Reversed:
    """Wraps a sort key to sort in descending order."""

    value: tuple

    def __lt__(self, other: "_Reversed") -> bool:
        return other.value < self.value


HistoryLookup = Callable[[Doc], Iterable[Doc]]


class BandIndex:
    """The kept articles by band fingerprint: ``query`` gives those sharing any of a
    doc's fingerprints, as datasketch's ``MinHashLSH.query`` gives those sharing a
    bucket (a fingerprint stands for a band's bucket key, with the band number in it)."""

    def __init__(self) -> None:
        self.keys: dict[int, list[str]] = defaultdict(list)

    def insert(self, key: str, prints: Sequence[int]) -> None:
        for value in prints:
            self.keys[value].append(key)

    def query(self, prints: Sequence[int]) -> set[str]:
        found: set[str] = set()
        for value in prints:
            found.update(self.keys.get(value, ()))
        return found


def deduplicate(
    docs: Sequence[Doc], config: DedupConfig, history: HistoryLookup | None = None
) -> DedupResult:
    """Decide which of ``docs`` (tonight's) are duplicates, of each other or of history.

    ``history(doc)`` returns the earlier nights' kept articles that may match
    ``doc`` (LSH candidates and exact-key matches); they take part in the keep
    policy like tonight's articles, except that they are never compared with each
    other (they were all kept before). An earlier article that loses to one of
    tonight's (policy ``latest``, or ``longest`` against a longer version) is
    reported as superseded.
    """
    pool: dict[str, Doc] = {d.key: d for d in docs}
    tonight = set(pool)
    if history is not None:
        for doc in docs:
            for old in history(doc):
                pool.setdefault(old.key, old)
    order = sorted(pool.values(), key=priority(config.keep))
    rank = {d.key: i for i, d in enumerate(order)}

    index = BandIndex()
    # A band fingerprint no other article has can bring no candidate: only the shared
    # ones enter the index and are looked up, and an article sharing none skips it.
    shingled = [d for d in order if len(d.shingles)]
    bands: dict[str, list[int]] = {}
    if shingled:
        fingerprints = band_fingerprints(np.stack([d.signature for d in shingled]), config)
        _, inverse, counts = np.unique(fingerprints.ravel(), return_inverse=True, return_counts=True)
        shared = (counts[inverse] > 1).reshape(fingerprints.shape)
        for i in np.flatnonzero(shared.any(axis=1)).tolist():
            bands[shingled[i].key] = fingerprints[i][shared[i]].tolist()
    kept: dict[str, Doc] = {}
    kept_by_exact: dict[str, list[Doc]] = {}
    result = DedupResult()

    exact_counts = Counter(d.exact for d in order)
    for doc in order:
        is_tonight = doc.key in tonight
        if doc.key not in bands and exact_counts[doc.exact] == 1:
            # Shares no band key and no exact key with any other article: it is kept,
            # and no other article can ever find it.
            if is_tonight:
                result.kept.append(doc)
            continue
        match = _best_match(
            doc, bands.get(doc.key), kept, kept_by_exact, index, config, rank,
            eligible=(lambda key: True) if is_tonight else tonight.__contains__,
        )
        if match is None:
            kept[doc.key] = doc
            kept_by_exact.setdefault(doc.exact, []).append(doc)
            if doc.key in bands:
                index.insert(doc.key, bands[doc.key])
            if is_tonight:
                result.kept.append(doc)
        elif is_tonight:
            result.dropped[doc.key] = match
        else:
            result.superseded.append((doc, match))
    return result


def _best_match(
    doc: Doc,
    bands: list[int] | None,
    kept: dict[str, Doc],
    kept_by_exact: dict[str, list[Doc]],
    index: BandIndex,
    config: DedupConfig,
    rank: dict[str, int],
    eligible: Callable[[str], bool],
) -> Match | None:
    """The kept article ``doc`` duplicates, if any: exact first, then the most similar
    (ties: the one first in the policy's order). Only ``eligible`` keys are considered."""
    for same in kept_by_exact.get(doc.exact, ()):
        if eligible(same.key):
            return Match(same, 1.0, "exact")
    if bands is None:
        return None
    best: tuple[float, int, Doc] | None = None
    for key in index.query(bands):
        if not eligible(key):
            continue
        other = kept[key]
        similarity = jaccard(doc.shingles, other.shingles)
        if similarity >= config.threshold:
            candidate = (similarity, -rank[key], other)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    if best is None:
        return None
    return Match(best[2], round(best[0], 6), "minhash")
