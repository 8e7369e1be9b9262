"""Exact and near-duplicate detection with MinHash LSH (datasketch), and a keep policy.

Normalisation before hashing (the same for exact and near duplicates):

- Unicode NFKC, then case folding (``Straße`` and ``STRASSE`` are the same word);
- words are runs of Unicode word characters (``\\w+``): punctuation and all
  whitespace differences vanish;
- digits are kept as they are: "3 killed" and "30 killed" are different news.

>>> words("It’s 3 o'clock —  STRASSE!")
['it', 's', '3', 'o', 'clock', 'strasse']

Two articles are *exact* duplicates when their word sequences are equal, and
*near* duplicates when the Jaccard similarity of their sets of word n-grams
(shingles) reaches the threshold. MinHash LSH only proposes candidates; every
candidate is confirmed with its real Jaccard similarity before anything is dropped.

Keep policy, without chaining: articles are visited in the policy's order and
an article is dropped only when it matches an article already *kept*, so
``dup_of`` always names a kept article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.minhash import _fmix

_WORD_RE = re.compile(r"\w+")
# Odd 64-bit multiplier combining the word hashes of a shingle (polynomial hash).
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
# Shingles hashed per block when computing signatures (bounds memory: block x num_perm x 4 bytes).
_SIGNATURE_BLOCK = 16384

KEEP_POLICIES = ("first", "longest", "latest")


@dataclass(frozen=True)
class DedupConfig:
    """MinHash and LSH settings; see ``config/luigi.cfg`` for what each means."""

    threshold: float = 0.8
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    scheme: str = "affine32"
    keep: str = "first"
    bands: int = 0  # 0: chosen for the threshold and lsh_recall (see choose_bands)
    rows: int = 0
    lsh_recall: float = 0.99

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.keep not in KEEP_POLICIES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_POLICIES)}, got {self.keep!r}")
        if self.scheme != "affine32":
            raise ValueError("only the 'affine32' MinHash scheme is supported")
        if self.shingle_size < 1:
            raise ValueError("shingle_size must be at least 1")
        if not self.bands or not self.rows:
            bands, rows = choose_bands(self.threshold, self.num_perm, self.lsh_recall)
            object.__setattr__(self, "bands", bands)
            object.__setattr__(self, "rows", rows)
        if self.bands * self.rows > self.num_perm:
            raise ValueError("bands x rows must not exceed num_perm")


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that LSH proposes a pair of this Jaccard similarity: 1 - (1 - s^r)^b."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def choose_bands(threshold: float, num_perm: int, recall: float) -> tuple[int, int]:
    """Bands x rows for a threshold: the most rows per band (fewest false candidates)
    that still propose a pair *at* the threshold with at least ``recall`` probability.

    Every candidate is confirmed by its real Jaccard similarity, so a false candidate
    costs a little time while a missed pair is a duplicate left in the output.
    (datasketch's own optimiser balances both, which at 0.8 proposes only 40 % of
    the pairs at 0.8.)

    >>> choose_bands(0.8, 128, 0.99)
    (21, 6)
    """
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if bands >= 2 and candidate_probability(threshold, bands, rows) >= recall:
            return bands, rows
    return num_perm // 2, 2


def words(text: str) -> list[str]:
    """The normalised words of a text (see the module docstring)."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold())


def exact_key(tokens: Sequence[str]) -> str:
    """Fingerprint of a normalised word sequence: equal for exact duplicates."""
    return xxhash.xxh3_128_hexdigest(" ".join(tokens).encode("utf-8"))


def shingles(tokens: Sequence[str], size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word ``size``-grams of ``tokens``.

    A text shorter than ``size`` words is one shingle (all its words), so short
    texts only ever match texts with exactly the same words; an empty text has none.

    >>> len(shingles("a b c d e f".split(), 5)), len(shingles(["a", "b"], 5)), len(shingles([], 5))
    (2, 1, 0)
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    hashes = np.fromiter(
        (xxhash.xxh3_64_intdigest(t.encode("utf-8")) for t in tokens), dtype=np.uint64, count=len(tokens)
    )
    width = min(size, len(hashes))
    count = len(hashes) - width + 1
    combined = hashes[:count].copy()
    for offset in range(1, width):
        combined *= _SHINGLE_MULTIPLIER
        combined += hashes[offset : offset + count]
    return np.unique(combined)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays.

    >>> jaccard(np.array([1, 2, 3], dtype=np.uint64), np.array([2, 3, 4], dtype=np.uint64))
    0.5
    """
    if not len(a) and not len(b):
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter)


def _to_32bit(shingle_hashes: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit input of the affine32 scheme."""
    return ((shingle_hashes >> np.uint64(32)) ^ shingle_hashes).astype(np.uint32)


class Signer:
    """MinHash signatures computed in bulk with numpy, equal to datasketch's.

    ``Signer(cfg).signature(s)`` equals the hash values of
    ``MinHash(num_perm, seed, scheme="affine32", hashfunc=int)`` updated with the
    32-bit folds of the shingle hashes; only the loop is numpy's instead of Python's.
    """

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        a, b = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme).permutations
        self._a = a.astype(np.uint32)
        self._b = b.astype(np.uint32)
        self._empty = np.full(config.num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)

    def signature(self, shingle_hashes: np.ndarray) -> np.ndarray:
        """One article's signature (all-max for an article with no shingles)."""
        return self.signatures([shingle_hashes])[0]

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many articles, shape (len(shingle_sets), num_perm), uint32."""
        out = np.tile(self._empty, (len(shingle_sets), 1))
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=len(shingle_sets))
        nonempty = np.flatnonzero(lengths)
        if not len(nonempty):
            return out
        values = _fmix(_to_32bit(np.concatenate([shingle_sets[d] for d in nonempty])), 32)
        ends = np.cumsum(lengths[nonempty])
        starts = ends - lengths[nonempty]
        first = 0
        while first < len(nonempty):
            # A block of whole articles of at most _SIGNATURE_BLOCK shingles in all,
            # or one article alone when it is larger than that.
            lo = starts[first]
            last = max(int(np.searchsorted(ends, lo + _SIGNATURE_BLOCK, side="right")), first + 1)
            hi = ends[last - 1]
            mins = self._empty
            for row in range(lo, hi, _SIGNATURE_BLOCK):
                permuted = values[row : min(hi, row + _SIGNATURE_BLOCK), None] * self._a + self._b
                if last - first == 1:
                    mins = np.minimum(mins, permuted.min(axis=0))
                else:
                    out[nonempty[first:last]] = np.minimum.reduceat(permuted, starts[first:last] - lo, axis=0)
            if last - first == 1:
                out[nonempty[first]] = mins
            first = last
        return out

    def lean(self, signature: np.ndarray) -> LeanMinHash:
        """A datasketch LeanMinHash holding a computed signature."""
        return LeanMinHash(seed=self.config.seed, hashvalues=signature, scheme=self.config.scheme)


@dataclass
class Doc:
    """What dedup knows of one article."""

    key: str  # unique in the run
    id: str  # the article's id, as written to the outputs
    night: str
    rank: int  # position in the night's input order
    n_words: int
    exact: str
    shingles: np.ndarray
    signature: np.ndarray
    title: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class Match:
    """Why an article was dropped: the kept article it matched."""

    dup_of: Doc
    similarity: float
    method: str  # "exact" or "minhash"


@dataclass
class DedupResult:
    kept: list[Doc] = field(default_factory=list)
    dropped: dict[str, Match] = field(default_factory=dict)  # doc key -> match
    superseded: list[tuple[Doc, Match]] = field(default_factory=list)  # earlier nights' docs


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
    signer = Signer(config)
    pool: dict[str, Doc] = {d.key: d for d in docs}
    tonight = set(pool)
    if history is not None:
        for doc in docs:
            for old in history(doc):
                pool.setdefault(old.key, old)
    order = sorted(pool.values(), key=priority(config.keep))
    rank = {d.key: i for i, d in enumerate(order)}

    lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
    kept: dict[str, Doc] = {}
    kept_by_exact: dict[str, list[Doc]] = {}
    result = DedupResult()

    for doc in order:
        is_tonight = doc.key in tonight
        match = _best_match(
            doc, kept, kept_by_exact, lsh, signer, config, rank,
            eligible=(lambda key: True) if is_tonight else tonight.__contains__,
        )
        if match is None:
            kept[doc.key] = doc
            kept_by_exact.setdefault(doc.exact, []).append(doc)
            if len(doc.shingles):
                lsh.insert(doc.key, signer.lean(doc.signature), check_duplication=False)
            if is_tonight:
                result.kept.append(doc)
        elif is_tonight:
            result.dropped[doc.key] = match
        else:
            result.superseded.append((doc, match))
    return result


def _best_match(
    doc: Doc,
    kept: dict[str, Doc],
    kept_by_exact: dict[str, list[Doc]],
    lsh: MinHashLSH,
    signer: Signer,
    config: DedupConfig,
    rank: dict[str, int],
    eligible: Callable[[str], bool],
) -> Match | None:
    """The kept article ``doc`` duplicates, if any: exact first, then the most similar
    (ties: the one first in the policy's order). Only ``eligible`` keys are considered."""
    for same in kept_by_exact.get(doc.exact, ()):
        if eligible(same.key):
            return Match(same, 1.0, "exact")
    if not len(doc.shingles):
        return None
    best: tuple[float, int, Doc] | None = None
    for key in lsh.query(signer.lean(doc.signature)):
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


def make_docs(
    records: Sequence[dict], night: str, config: DedupConfig, first_rank: int = 0
) -> list[Doc]:
    """Dedup's view of articles (dicts with ``key``, ``id``, ``text``, ``title``, ``published``).

    Ranks continue from ``first_rank`` so that ranks follow the night's input order.
    """
    signer = Signer(config)
    token_lists = [words(r["text"]) for r in records]
    shingle_sets = [shingles(tokens, config.shingle_size) for tokens in token_lists]
    signatures = signer.signatures(shingle_sets)
    return [
        Doc(
            key=r["key"],
            id=r["id"],
            night=night,
            rank=first_rank + i,
            n_words=len(tokens),
            exact=exact_key(tokens),
            shingles=shingle_set,
            signature=signature,
            title=r.get("title"),
            published=r.get("published"),
        )
        for i, (r, tokens, shingle_set, signature) in enumerate(
            zip(records, token_lists, shingle_sets, signatures)
        )
    ]
