"""Dedup's settings, and the LSH banding chosen for a threshold. Plain Python: the
settings layer reads them without loading numpy's or numba's machinery."""

from __future__ import annotations

from dataclasses import dataclass

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
