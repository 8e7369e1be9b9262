"""Dedup's per-article fingerprints on disk: one compressed ``.npz`` of arrays per file.

Kept separate from the JSONL stages because shingle sets and signatures are
numbers, and loading them as numpy arrays is what makes dedup fast.
"""

from __future__ import annotations

import mmap
import os
import struct
import zipfile
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
    data = _arrays(path)
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


def _arrays(path: Path | str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, mapped into memory rather than read: ``np.savez`` stores
    its members uncompressed, so each one is a ``.npy`` at some offset of the file, and
    its pages are read only when used (dedup reads the shingles of the few articles it
    compares). The mapping is private (copy on write), so the arrays are writable like
    loaded ones (numba's compiled loops take them as the same type). A compressed
    member is read the usual way."""
    arrays: dict[str, np.ndarray] = {}
    with open(path, "rb") as handle, zipfile.ZipFile(handle) as archive:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if os.fstat(handle.fileno()).st_size else None
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED or mapped is None:
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            # The member's data follows its local header: 30 bytes, then its name and extra field.
            name_length, extra_length = struct.unpack("<HH", mapped[info.header_offset + 26 : info.header_offset + 30])
            handle.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read_header(handle)
            if dtype.hasobject:
                raise ValueError(f"{path}: {info.filename} holds Python objects")
            count = int(np.prod(shape, dtype=np.int64))
            array = np.frombuffer(mapped, dtype=dtype, count=count, offset=handle.tell())
            arrays[name] = array.reshape(shape, order="F" if fortran_order else "C")
    return arrays
