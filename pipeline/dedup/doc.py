"""What dedup knows of an article (``Doc``), and why one was dropped (``Match``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Doc:
    """What dedup knows of one article."""

    key: str  # unique in the run
    id: str  # the article's id, as written to the outputs
    night: str
    rank: int  # position in the night's input order
    n_words: int
    exact: str
    shingles: np.ndarray  # or where they are (io.arrays.StoredShingles), read when compared
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
