"""The keep policy: which article of a duplicate group survives, without chaining.

Articles are visited in the policy's order and one is dropped only when it matches an
article already *kept*, so ``dup_of`` always names a kept article. Candidates come from
the groups of articles sharing a band fingerprint (one per band key of datasketch's
``MinHashLSH``, tested against it: the same candidates); every candidate is confirmed
by its real Jaccard similarity before anything is dropped.

The articles are held as arrays (``Pool``): what the policy keeps of a member is a few
numbers, and its shingles are read when it is compared, so a night of any size is
decided in memory that follows the articles that share something, not their text.
The groups are looked through by a compiled loop (``kernels.kept_sharing``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from pipeline.dedup import kernels
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import DedupResult, Doc, Match
from pipeline.dedup.fingerprint import band_fingerprints, jaccard_reaching
from pipeline.io.arrays import shingle_array


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


def visit_order(keep: str, night: np.ndarray, rank: np.ndarray, n_words: np.ndarray,
                published: np.ndarray | None) -> np.ndarray:
    """``priority`` as array sorts: the positions of articles given as arrays (nights
    and ``published`` as bytes, UTF-8 sorting as its text does), in the policy's order."""
    if keep == "first":
        return np.lexsort((rank, night))
    if keep == "longest":
        return np.lexsort((rank, night, -n_words.astype(np.int64)))
    if keep == "latest":
        return np.lexsort((rank, published, night))[::-1]
    raise ValueError(f"unknown keep policy {keep!r}")


@dataclass
class Pool:
    """The articles the keep policy decides on, as arrays (one entry a member): tonight's
    that share something and the earlier nights' candidates. ``shingles(member)`` reads a
    member's shingles when it is compared; ``band(b)`` gives band b's fingerprint of
    every member (those of members without shingles, ``lengths`` 0, are never used), a
    band at a time so that the pool never holds them all twice."""

    night: np.ndarray  # "YYYY-MM-DD", bytes
    rank: np.ndarray
    n_words: np.ndarray
    published: np.ndarray | None  # bytes, only for the policy "latest"
    exact: np.ndarray  # bytes
    lengths: np.ndarray  # shingle counts
    tonight: np.ndarray  # bool
    bands: int
    band: Callable[[int], np.ndarray]
    shingles: Callable[[int], np.ndarray]
    # Where each member's shingles are, when in a file: its descriptor (-1: ask
    # ``shingles``) and the byte offset; read straight into the arena.
    files: np.ndarray | None = None
    places: np.ndarray | None = None

    def visit_order(self, keep: str) -> np.ndarray:
        """The members in the policy's order (``priority``)."""
        return visit_order(keep, self.night, self.rank, self.n_words, self.published)

    def take(self, order: np.ndarray) -> "Pool":
        """The pool with its members in ``order`` (member i is old member order[i])."""
        return Pool(self.night[order], self.rank[order], self.n_words[order],
                    None if self.published is None else self.published[order], self.exact[order],
                    self.lengths[order], self.tonight[order], self.bands,
                    lambda band, column=self.band: column(band)[order],
                    lambda member, shingles=self.shingles: shingles(int(order[member])),
                    None if self.files is None else self.files[order],
                    None if self.places is None else self.places[order])


class BandGroups:
    """The band fingerprints shared by more than one member, as groups: each group's
    members in member order, and each member's groups (compressed rows). A band
    fingerprint stands for a bucket key of datasketch's ``MinHashLSH`` (with the band
    number in it): the members of a member's groups are those ``MinHashLSH.query``
    would give for it. Made a band at a time, members and groups as 32-bit numbers."""

    def __init__(self, band: Callable[[int], np.ndarray], bands: int, lengths: np.ndarray) -> None:
        shingled = np.flatnonzero(lengths).astype(np.int32)
        members, sizes = [], []
        for number in range(bands):
            values = band(number)[shingled]
            order = np.argsort(values, kind="stable")  # members stay in order within a value
            values = values[order]
            starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else np.empty(0, np.int64)
            size = np.diff(np.r_[starts, len(values)])
            shared = size > 1  # a fingerprint no other member has can bring no candidate
            members.append(shingled[order][np.repeat(shared, size)])
            sizes.append(size[shared])
            del values, order
        self.group_members = np.concatenate(members) if members else np.empty(0, np.int32)
        del members
        sizes = np.concatenate(sizes) if sizes else np.empty(0, np.int64)
        self.group_starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        self.member_starts, self.member_groups = kernels.groups_by_member(
            self.group_starts, self.group_members, len(lengths))

    def groups(self, member: int) -> np.ndarray:
        return self.member_groups[self.member_starts[member] : self.member_starts[member + 1]]

    def sharing(self, member: int) -> set[int]:
        """Every member sharing a band fingerprint with ``member``, and itself."""
        found = {member}
        for g in self.groups(member).tolist():
            found.update(self.group_members[self.group_starts[g] : self.group_starts[g + 1]].tolist())
        return found


@dataclass
class Decided:
    """The keep policy's decisions on a pool, by member (in the pool's own order):
    ``dup_of`` the member it duplicates (-1: kept), with the similarity and method
    (``exact`` or ``minhash``)."""

    dup_of: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray  # bool: the method was exact


# Bytes of shingles the keep policy holds while it compares (``ShingleArena``).
ARENA_BYTES = 64 << 20


class ShingleArena:
    """The shingles of the members being compared, end to end in one array of
    ``budget`` bytes: a member's are read once (``read``) and stay until the array is
    full, when it is emptied (members are compared in visit order, with the kept ones
    sharing their groups: recent ones mostly). The comparisons of one member with its
    candidates are one compiled loop (``kernels.most_similar``) over the array."""

    def __init__(self, read: Callable[[int], np.ndarray], lengths: np.ndarray, budget: int = ARENA_BYTES,
                 files: np.ndarray | None = None, places: np.ndarray | None = None) -> None:
        self.read, self.lengths = read, np.asarray(lengths, dtype=np.int64)
        self.files = files if files is not None else np.full(len(lengths), -1, dtype=np.int64)
        self.places = places
        self.data = np.empty(budget // 8, dtype=np.uint64)
        self.bytes = memoryview(self.data).cast("B")
        self.starts = np.full(len(lengths), -1, dtype=np.int64)
        self.held: list[int] = []
        self.top = 0

    def most_similar(self, member: int, others: np.ndarray, threshold: float) -> tuple[int, float]:
        """Of ``others`` (in the order ties are broken), the most similar to ``member``
        reaching ``threshold``, and its similarity; (-1, -1.0) if none."""
        batch = np.empty(len(others) + 1, dtype=np.int64)
        batch[0], batch[1:] = member, others
        if not self._hold(batch):  # more than the arena holds at once: one pair at a time
            best, match, shingles = -1.0, -1, self.read(member)
            for other in others.tolist():
                score = jaccard_reaching(shingles, self.read(other), threshold)
                if score is not None and (score > best or (score == best and other < match)):
                    best, match = score, other
            return match, best
        match, best = kernels.most_similar(self.data, self.starts, self.lengths, member, others, threshold)
        return int(match), float(best)

    def _hold(self, batch: np.ndarray) -> bool:
        """Read the members of ``batch`` not held yet; False if they cannot all be held."""
        missing = batch[self.starts[batch] < 0]
        need = int(self.lengths[missing].sum())
        if self.top + need > len(self.data):
            if int(self.lengths[np.unique(batch)].sum()) > len(self.data):
                return False
            self.starts[self.held] = -1
            self.held, self.top = [], 0
            missing = np.unique(batch)
        for member in missing.tolist():
            size, file = int(self.lengths[member]), int(self.files[member])
            if file >= 0:  # straight from the file
                want = 8 * size
                got = os.preadv(file, [self.bytes[8 * self.top : 8 * self.top + want]], int(self.places[member]))
                if got != want:
                    raise ValueError(f"shingles of member {member}: {got} of {want} bytes read")
            else:
                self.data[self.top : self.top + size] = self.read(member)
            self.starts[member] = self.top
            self.top += size
            self.held.append(member)
        return True


def decide_pool(pool: Pool, config: DedupConfig) -> Decided:
    """The keep policy on a pool (see the module docstring): members are visited in the
    policy's order, and one is dropped only when it matches a member already kept. An
    earlier night's member is only ever compared with tonight's."""
    order = pool.visit_order(config.keep)
    visit = pool.take(order)
    size = len(order)
    groups = BandGroups(visit.band, visit.bands, visit.lengths)
    exact_order = np.argsort(visit.exact, kind="stable")  # an exact key's members in visit order
    exact_sorted = visit.exact[exact_order]
    first = np.r_[True, exact_sorted[1:] != exact_sorted[:-1]] if size else np.empty(0, np.bool_)
    exact_group = np.empty(size, dtype=np.int64)
    exact_group[exact_order] = np.cumsum(first) - 1
    exact_bounds = np.r_[np.flatnonzero(first), size]
    del exact_order, exact_sorted, first
    # Of each exact key, the first member kept, and the first of tonight's kept: the one
    # a member with that key matches (an earlier night's member matches tonight's only).
    first_kept = np.full(len(exact_bounds) - 1, -1, dtype=np.int64)
    first_kept_tonight = np.full(len(exact_bounds) - 1, -1, dtype=np.int64)
    kept = np.zeros(size, dtype=np.bool_)
    dup_of = np.full(size, -1, dtype=np.int64)
    similarity = np.zeros(size, dtype=np.float64)
    by_exact = np.zeros(size, dtype=np.bool_)
    seen = np.zeros(size, dtype=np.int64)
    found = np.empty(size, dtype=np.int64)
    tonight = visit.tonight
    arena = ShingleArena(visit.shingles, visit.lengths, ARENA_BYTES, visit.files, visit.places)
    for member in range(size):
        group = int(exact_group[member])
        member_groups = groups.groups(member)
        if not len(member_groups) and exact_bounds[group + 1] - exact_bounds[group] == 1:
            kept[member] = True  # shares nothing with anyone: kept, and no other can find it
            continue
        eligible_all = bool(tonight[member])
        match = int(first_kept[group] if eligible_all else first_kept_tonight[group])
        if match >= 0:
            similarity[member], by_exact[member] = 1.0, True
        elif len(member_groups):
            count = kernels.kept_sharing(member, member_groups, groups.group_starts, groups.group_members,
                                         kept, seen, found)
            others = found[:count] if eligible_all else found[:count][tonight[found[:count]]]
            if len(others):
                match, best = arena.most_similar(member, others, config.threshold)
            if match >= 0:
                similarity[member] = round(best, 6)
        if match < 0:
            kept[member] = True
            if first_kept[group] < 0:
                first_kept[group] = member
            if eligible_all and first_kept_tonight[group] < 0:
                first_kept_tonight[group] = member
        else:
            dup_of[member] = match
    # Back to the pool's own order.
    back = np.empty(size, dtype=np.int64)
    back[order] = np.arange(size)
    out_dup = np.where(dup_of >= 0, order[np.maximum(dup_of, 0)], -1)
    return Decided(dup_of=out_dup[back], similarity=similarity[back], exact=by_exact[back])


def docs_pool(docs: Sequence[Doc], config: DedupConfig) -> Pool:
    """A pool of ``Doc`` objects (all tonight's: set ``tonight`` otherwise)."""
    shingled = [i for i, d in enumerate(docs) if len(d.shingles)]
    prints = np.zeros((len(docs), config.bands), dtype=np.int64)
    if shingled:
        prints[shingled] = band_fingerprints(np.stack([docs[i].signature for i in shingled]), config)
    return Pool(
        night=np.array([d.night.encode() for d in docs], dtype=bytes),
        rank=np.array([d.rank for d in docs], dtype=np.int64),
        n_words=np.array([d.n_words for d in docs], dtype=np.int64),
        published=np.array([(d.published or "").encode("utf-8") for d in docs], dtype=bytes),
        exact=np.array([d.exact.encode("ascii") for d in docs], dtype=bytes),
        lengths=np.array([len(d.shingles) for d in docs], dtype=np.int64),
        tonight=np.ones(len(docs), dtype=np.bool_),
        bands=config.bands,
        band=lambda band: prints[:, band],
        shingles=lambda member: shingle_array(docs[member].shingles),
    )


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
    if history is not None:
        for doc in docs:
            for old in history(doc):
                pool.setdefault(old.key, old)
    members = list(pool.values())
    if not members:
        return DedupResult()
    arrays = docs_pool(members, config)
    arrays.tonight[len(docs):] = False
    decided = decide_pool(arrays, config)
    result = DedupResult()
    order = arrays.visit_order(config.keep)
    for member in order.tolist():
        doc, target = members[member], int(decided.dup_of[member])
        if target < 0:
            if member < len(docs):
                result.kept.append(doc)
            continue
        match = Match(members[target], float(decided.similarity[member]), "exact" if decided.exact[member] else "minhash")
        if member < len(docs):
            result.dropped[doc.key] = match
        else:
            result.superseded.append((doc, match))
    return result
