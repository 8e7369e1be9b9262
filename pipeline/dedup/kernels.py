"""The compiled loops of fingerprinting: words split and joined, shingles, Jaccard
counts, MinHash signatures, and the MurmurHash3 finalizer datasketch applies to its
inputs. numba compiles each on first use and caches it beside this file; each is
tested bit for bit against a plain-Python or library reference (tests/test_dedup.py).
"""

from __future__ import annotations

from pipeline.jit import numba  # without scipy.linalg: see pipeline.jit
import numpy as np

# An odd 64-bit constant (2^64 / golden ratio): the multiplier that combines a shingle's
# word hashes (a polynomial hash), and a band's values into its fingerprint.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)

_FMIX = {
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
    64: (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(33), np.uint64(0xC4CEB9FE1A85EC53), np.uint64(33)),
}


def fmix(values: np.ndarray, width: int) -> np.ndarray:
    """MurmurHash3's finalizer on unsigned 32- or 64-bit integers, element by element
    (wrapping multiplication): the pre-mix datasketch's ``MinHash`` gives its inputs.

    >>> fmix(np.array([1], dtype=np.uint32), 32).tolist()
    [1364076727]
    """
    s1, m1, s2, m2, s3 = _FMIX[width]
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


@numba.njit(cache=True, nogil=True)
def split_words(buffer: np.ndarray, text_ends: np.ndarray):
    """The words of texts laid end to end in ``buffer``, each text ending with a space at
    ``text_ends[t] - 1`` (words are runs of non-spaces): every word's start and length,
    each text's number of words, and each text's words joined by single spaces, end to
    end, with where each text's share ends."""
    starts = np.empty(len(buffer) // 2 + 1, dtype=np.int64)
    lengths = np.empty(len(buffer) // 2 + 1, dtype=np.int64)
    counts = np.zeros(len(text_ends), dtype=np.int64)
    joined = np.empty(len(buffer), dtype=np.uint8)
    joined_ends = np.empty(len(text_ends), dtype=np.int64)
    words, out, at = 0, 0, 0
    for t in range(len(text_ends)):
        end, count = text_ends[t], 0
        while at < end:
            c = buffer[at]
            if c == 0x20:
                at += 1
                continue
            if count:
                joined[out] = 0x20
                out += 1
            start = at
            while c != 0x20:  # the text's last space ends its last word
                joined[out] = c
                out += 1
                at += 1
                c = buffer[at]
            starts[words] = start
            lengths[words] = at - start
            words += 1
            count += 1
        counts[t] = count
        joined_ends[t] = out
    return starts[:words], lengths[:words], counts, joined[:out], joined_ends


@numba.njit(cache=True, nogil=True)
def shingle_kernel(hashes: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each text's sorted unique shingles, end to end, and how many each text has."""
    total = 0
    for d in range(len(counts)):
        total += counts[d] - size + 1 if counts[d] >= size else min(counts[d], 1)
    out = np.empty(total, dtype=np.uint64)
    kept = np.zeros(len(counts), dtype=np.int64)
    start = 0
    position = 0
    for d in range(len(counts)):
        n = counts[d]
        width = min(n, size)  # a text shorter than size words: one shingle of all its words
        m = n - width + 1 if n else 0
        for i in range(m):
            combined = hashes[start + i]
            for offset in range(1, width):
                combined = combined * GOLDEN + hashes[start + i + offset]
            out[position + i] = combined
        shingles = out[position : position + m]
        shingles.sort()
        unique = 0
        for i in range(m):
            if i == 0 or shingles[i] != shingles[unique - 1]:
                shingles[unique] = shingles[i]
                unique += 1
        kept[d] = unique
        position += unique
        start += n
    return out[:position], kept


@numba.njit(cache=True, nogil=True)
def signature_kernel(values: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray,
                      out: np.ndarray) -> None:
    """Per article, the minimum of ``a[k] * v + b[k]`` (mod 2**32) over its values v, for
    every permutation k; an article without values keeps the empty MinHash's maximum."""
    row = np.empty(len(a), dtype=np.uint32)
    position = 0
    for d in range(len(lengths)):
        row[:] = np.uint32(0xFFFFFFFF)
        for i in range(position, position + lengths[d]):
            v = values[i]
            for k in range(len(a)):  # the inner loop over permutations is vectorised
                row[k] = min(row[k], np.uint32(a[k] * v + b[k]))
        out[d, :] = row
        position += lengths[d]


@numba.njit(cache=True, nogil=True)
def shared_count_reaching(a: np.ndarray, b: np.ndarray, threshold: float) -> int:
    """How many values two sorted unique arrays share (one merge pass), or -1 as soon as
    the merge shows that their Jaccard similarity (``shared / (len(a) + len(b) - shared)``, in floating
    point) cannot reach ``threshold``: what the two could still share is then below the
    least count that reaches it. Exact: a pair that reaches the threshold is always
    merged to the end."""
    na, nb = len(a), len(b)
    total = na + nb
    fewest = min(na, nb)
    # The least count ``least`` whose similarity reaches the threshold (the division as
    # the caller's; it grows with the count, so every count below it falls short).
    least = max(0, int(threshold * total / (1.0 + threshold)) - 2)
    while least <= fewest and least / (total - least) < threshold:
        least += 1
    if least > fewest:
        return -1
    i, j, shared = 0, 0, 0
    while i < na and j < nb:
        if a[i] < b[j]:
            i += 1
            if shared + min(na - i, nb - j) < least:
                return -1
        elif a[i] > b[j]:
            j += 1
            if shared + min(na - i, nb - j) < least:
                return -1
        else:
            shared += 1
            i += 1
            j += 1
    return shared


@numba.njit(cache=True, nogil=True)
def most_similar(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, member: int, others: np.ndarray,
                 threshold: float) -> tuple:
    """Of ``others``, the one most similar to ``member`` whose Jaccard similarity reaches
    ``threshold`` (ties: the lower number, first in the keep policy's order), and the
    similarity; (-1, -1.0) when none does. Members' shingles are ``data[starts[m] :
    starts[m] + lengths[m]]`` (sorted, unique, not empty)."""
    a = data[starts[member] : starts[member] + lengths[member]]
    best, match = -1.0, -1
    for k in range(len(others)):
        other = others[k]
        b = data[starts[other] : starts[other] + lengths[other]]
        shared = shared_count_reaching(a, b, threshold)
        if shared < 0:
            continue
        score = shared / (len(a) + len(b) - shared)
        if score >= threshold and (score > best or (score == best and other < match)):
            best, match = score, other
    return match, best


@numba.njit(cache=True, nogil=True)
def kept_sharing(member: int, groups: np.ndarray, group_starts: np.ndarray, group_members: np.ndarray,
                 kept: np.ndarray, seen: np.ndarray, out: np.ndarray) -> int:
    """The kept members visited before ``member`` (visit order is member order) that share
    one of its band groups, each once, into ``out``; how many. ``seen`` (one int per
    member, never equal to a member's number + 1 before its own call) marks those found."""
    count = 0
    for g in groups:
        for k in range(group_starts[g], group_starts[g + 1]):
            other = group_members[k]
            if other >= member:
                break  # a group's members are in visit order
            if kept[other] and seen[other] != member + 1:
                seen[other] = member + 1
                out[count] = other
                count += 1
    return count


@numba.njit(cache=True, nogil=True)
def groups_by_member(group_starts: np.ndarray, group_members: np.ndarray, members: int) -> tuple:
    """The groups of each member, ascending (compressed rows: starts, then the groups),
    from the members of each group: a counting sort, without a copy of the pairs."""
    starts = np.zeros(members + 1, dtype=np.int64)
    for m in group_members:
        starts[m + 1] += 1
    for m in range(members):
        starts[m + 1] += starts[m]
    fill = starts[:-1].copy()
    out = np.empty(len(group_members), dtype=np.int32)
    for g in range(len(group_starts) - 1):
        for k in range(group_starts[g], group_starts[g + 1]):
            m = group_members[k]
            out[fill[m]] = g
            fill[m] += 1
    return starts, out
