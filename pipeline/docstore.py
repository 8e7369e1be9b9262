"""Dedup's per-article fingerprints on disk: one compressed ``.npz`` of arrays per file.

Kept separate from the JSONL stages because shingle sets and signatures are
numbers, and loading them as numpy arrays is what makes dedup fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline.dedup import Doc
from pipeline.jsonl import atomic_writer


def save_docs(path: Path | str, docs: Sequence[Doc], num_perm: int) -> None:
    """Write docs atomically (an empty file of docs is valid)."""
    lengths = np.array([len(d.shingles) for d in docs], dtype=np.int64)
    arrays = {
        "key": np.array([d.key for d in docs], dtype=str),
        "id": np.array([d.id for d in docs], dtype=str),
        "night": np.array([d.night for d in docs], dtype=str),
        "rank": np.array([d.rank for d in docs], dtype=np.int64),
        "n_words": np.array([d.n_words for d in docs], dtype=np.int64),
        "exact": np.array([d.exact for d in docs], dtype=str),
        "title": np.array([d.title or "" for d in docs], dtype=str),
        "published": np.array([d.published or "" for d in docs], dtype=str),
        "lengths": lengths,
        "shingles": np.concatenate([d.shingles for d in docs]) if docs else np.empty(0, np.uint64),
        "signatures": (
            np.stack([d.signature for d in docs]) if docs else np.empty((0, num_perm), np.uint32)
        ),
    }
    with atomic_writer(path) as handle:
        np.savez(handle, **arrays)


def load_docs(path: Path | str) -> list[Doc]:
    with np.load(path, allow_pickle=False) as npz:
        data = {name: npz[name] for name in npz.files}  # each npz[name] access reads the file again
    ends = np.cumsum(data["lengths"])
    starts = ends - data["lengths"]
    shingles, signatures = data["shingles"], data["signatures"]
    columns = zip(
        data["key"].tolist(), data["id"].tolist(), data["night"].tolist(), data["rank"].tolist(),
        data["n_words"].tolist(), data["exact"].tolist(), data["title"].tolist(), data["published"].tolist(),
        starts.tolist(), ends.tolist(),
    )
    return [
        Doc(
            key=key, id=doc_id, night=night, rank=rank, n_words=n_words, exact=exact,
            shingles=shingles[start:end], signature=signatures[i],
            title=title or None, published=published or None,
        )
        for i, (key, doc_id, night, rank, n_words, exact, title, published, start, end) in enumerate(columns)
    ]
