"""64-bit hashes of many words and lines at once, as compiled loops.

Words: ``xxhash.xxh3_64_intdigest``; lines (for site boilerplate): ``xxh64_intdigest``
of the line with its spaces squeezed and its case folded (see ``line_hashes``).

Dedup hashes every word of every article (about 1.2 million words in a 2,500-article
shard); one Python call per word costs more than the rest of the fingerprinting.
XXH3 hashes an input of up to 16 bytes with a few loads, multiplications and shifts
and no loop, so those words (nearly all words) are hashed here by a loop that numba
compiles to machine code, with the same results bit for bit as the xxhash library
(tested against it for every length). Longer words go to the library one by one.

>>> import xxhash
>>> words = [b"a", b"fox", b"jumps", b"reportedly", b"internationalization"]
>>> buffer = np.frombuffer(b" ".join(words), dtype=np.uint8)
>>> lengths = np.array([len(w) for w in words])
>>> starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
>>> xxh3_64_words(buffer, starts, lengths).tolist() == [xxhash.xxh3_64_intdigest(w) for w in words]
True
"""

from __future__ import annotations

import functools

from pipeline.jit import numba  # without scipy.linalg: see pipeline.jit
import numpy as np
import xxhash

# The first 64 bytes of XXH3's default secret (kSecret): all that inputs of 1 to 16
# bytes read.
_SECRET = bytes([
    0xB8, 0xFE, 0x6C, 0x39, 0x23, 0xA4, 0x4B, 0xBE, 0x7C, 0x01, 0x81, 0x2C, 0xF7, 0x21, 0xAD, 0x1C,
    0xDE, 0xD4, 0x6D, 0xE9, 0x83, 0x90, 0x97, 0xDB, 0x72, 0x40, 0xA4, 0xA4, 0xB7, 0xB3, 0x67, 0x1F,
    0xCB, 0x79, 0xE6, 0x4E, 0xCC, 0xC0, 0xE5, 0x78, 0x82, 0x5A, 0xD0, 0x7D, 0xCC, 0xFF, 0x72, 0x21,
    0xB8, 0x08, 0x46, 0x74, 0xF7, 0x43, 0x24, 0x8E, 0xE0, 0x35, 0x90, 0xE6, 0x81, 0x3A, 0x26, 0x4C,
])
_PRIME64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_PRIME64_3 = np.uint64(0x165667B19E3779F9)
_PRIME_MX1 = np.uint64(0x165667919E3779F9)
_PRIME_MX2 = np.uint64(0x9FB21C651E98DF25)
# Inputs longer than this are hashed by the library.
MAX_VECTOR_BYTES = 16


def _le(offset: int, size: int) -> np.uint64:
    return np.uint64(int.from_bytes(_SECRET[offset : offset + size], "little"))


# Seed 0: the bit flips of each length class are constants.
_FLIP_1TO3 = np.uint64(int(_le(0, 4)) ^ int(_le(4, 4)))
_FLIP_4TO8 = np.uint64(int(_le(8, 8)) ^ int(_le(16, 8)))
_FLIP_9TO16_LO = np.uint64(int(_le(24, 8)) ^ int(_le(32, 8)))
_FLIP_9TO16_HI = np.uint64(int(_le(40, 8)) ^ int(_le(48, 8)))


# Compiled once and cached beside this file (numba's cache); nogil: no lock held.
_jit = numba.njit(cache=True, nogil=True)


@_jit
def _load(buffer: np.ndarray, at: int, size: int) -> np.uint64:
    """The little-endian unsigned integer of ``size`` bytes at ``at``."""
    value = np.uint64(0)
    for k in range(size - 1, -1, -1):
        value = (value << np.uint64(8)) | np.uint64(buffer[at + k])
    return value


@_jit
def _rotl(x: np.uint64, bits: int) -> np.uint64:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


@_jit
def _byteswap64(x: np.uint64) -> np.uint64:
    swapped = np.uint64(0)
    for _ in range(8):
        swapped = (swapped << np.uint64(8)) | (x & np.uint64(0xFF))
        x >>= np.uint64(8)
    return swapped


@_jit
def _mul128_fold64(a: np.uint64, b: np.uint64) -> np.uint64:
    """(a * b as 128 bits): low half XOR high half, from 32-bit halves."""
    low32 = np.uint64(0xFFFFFFFF)
    a0, a1, b0, b1 = a & low32, a >> np.uint64(32), b & low32, b >> np.uint64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> np.uint64(32)) + (p01 & low32) + (p10 & low32)
    low = (p00 & low32) | (middle << np.uint64(32))
    high = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (middle >> np.uint64(32))
    return low ^ high


@_jit
def _xxh3_short(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray, out: np.ndarray) -> None:
    """XXH3-64 (seed 0) of each input of 1 to 16 bytes (XXH3_len_1to3, _4to8, _9to16);
    longer ones are left to the caller."""
    for i in range(len(starts)):
        s, n = starts[i], lengths[i]
        length = np.uint64(n)
        if n <= 3:
            combined = (
                (np.uint64(buffer[s]) << np.uint64(16)) | (np.uint64(buffer[s + (n >> 1)]) << np.uint64(24))
                | np.uint64(buffer[s + n - 1]) | (length << np.uint64(8))
            )
            h = combined ^ _FLIP_1TO3
            h ^= h >> np.uint64(33)
            h *= _PRIME64_2
            h ^= h >> np.uint64(29)
            h *= _PRIME64_3
            h ^= h >> np.uint64(32)
        elif n <= 8:
            h = (_load(buffer, s + n - 4, 4) + (_load(buffer, s, 4) << np.uint64(32))) ^ _FLIP_4TO8
            h ^= _rotl(h, 49) ^ _rotl(h, 24)
            h *= _PRIME_MX2
            h ^= (h >> np.uint64(35)) + length
            h *= _PRIME_MX2
            h ^= h >> np.uint64(28)
        elif n <= MAX_VECTOR_BYTES:
            low = _load(buffer, s, 8) ^ _FLIP_9TO16_LO
            high = _load(buffer, s + n - 8, 8) ^ _FLIP_9TO16_HI
            h = length + _byteswap64(low) + high + _mul128_fold64(low, high)
            h ^= h >> np.uint64(37)
            h *= _PRIME_MX1
            h ^= h >> np.uint64(32)
        else:
            continue
        out[i] = h


def xxh3_64_words(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``xxh3_64_intdigest(bytes(buffer[s : s + n]))`` for each start s and length n >= 1."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    buffer = np.ascontiguousarray(buffer, dtype=np.uint8)
    out = np.empty(len(starts), dtype=np.uint64)
    if len(starts):
        _xxh3_short(buffer, starts, lengths, out)
    for i in np.flatnonzero(lengths > MAX_VECTOR_BYTES).tolist():
        out[i] = xxhash.xxh3_64_intdigest(buffer[starts[i] : starts[i] + lengths[i]].tobytes())
    return out


# --- whole lines: XXH64 of each line, spaces squeezed, case folded -------------------------

_P64_1 = np.uint64(0x9E3779B185EBCA87)
_P64_2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P64_3 = np.uint64(0x165667B19E3779F9)
_P64_4 = np.uint64(0x85EBCA77C2B2AE63)
_P64_5 = np.uint64(0x27D4EB2F165667C5)
# ASCII whitespace as str.split() knows it, but the line feed (lines are split on it).
_ASCII_SPACE = np.zeros(256, dtype=np.uint8)
_ASCII_SPACE[[0x09, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = 1
_ASCII_LOWER = np.arange(256, dtype=np.uint8)
_ASCII_LOWER[ord("A") : ord("Z") + 1] += 32


@functools.cache
def _unchanged() -> np.ndarray:
    """For each code point of the Basic Multilingual Plane: 1 when case folding leaves it
    as it is and it is not whitespace (’, “, —, £, é, Cyrillic lower case ...), so that
    a line may hold it and still be hashed by the compiled loop."""
    return np.array(
        [ch.casefold() == ch and not ch.isspace() for ch in map(chr, range(0x10000))], dtype=np.uint8
    )


@_jit
def _xxh64_round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    acc += lane * _P64_2
    return _rotl(acc, 31) * _P64_1


@_jit
def _xxh64(data: np.ndarray, n: int) -> np.uint64:
    """XXH64 (seed 0) of ``data[:n]``."""
    at = 0
    if n >= 32:
        v1, v2, v3, v4 = _P64_1 + _P64_2, _P64_2, np.uint64(0), np.uint64(0) - _P64_1
        while at + 32 <= n:
            v1 = _xxh64_round(v1, _load(data, at, 8))
            v2 = _xxh64_round(v2, _load(data, at + 8, 8))
            v3 = _xxh64_round(v3, _load(data, at + 16, 8))
            v4 = _xxh64_round(v4, _load(data, at + 24, 8))
            at += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        for v in (v1, v2, v3, v4):
            h = (h ^ _xxh64_round(np.uint64(0), v)) * _P64_1 + _P64_4
    else:
        h = _P64_5
    h += np.uint64(n)
    while at + 8 <= n:
        h ^= _xxh64_round(np.uint64(0), _load(data, at, 8))
        h = _rotl(h, 27) * _P64_1 + _P64_4
        at += 8
    if at + 4 <= n:
        h ^= _load(data, at, 4) * _P64_1
        h = _rotl(h, 23) * _P64_2 + _P64_3
        at += 4
    while at < n:
        h ^= np.uint64(data[at]) * _P64_5
        h = _rotl(h, 11) * _P64_1
        at += 1
    h ^= h >> np.uint64(33)
    h *= _P64_2
    h ^= h >> np.uint64(29)
    h *= _P64_3
    h ^= h >> np.uint64(32)
    return h


@_jit
def _line_hashes(text: np.ndarray, lower: np.ndarray, space: np.ndarray, unchanged: np.ndarray,
                 lines: int) -> tuple[np.ndarray, np.ndarray]:
    """For each line of UTF-8 text: XXH64 of the line with its spaces squeezed (none
    around it, one between words) and its letters case folded, and whether the line
    holds a character this loop does not fold (its hash is then 0: the caller hashes it)."""
    hashes = np.zeros(lines, dtype=np.uint64)
    other = np.zeros(lines, dtype=np.uint8)
    folded = np.empty(len(text), dtype=np.uint8)
    squeezed = np.empty(len(text), dtype=np.uint8)
    line, start, i = 0, 0, 0
    while True:
        # Per line: a space that needs squeezing seen, another character seen, previous a space.
        needs, unknown, previous = 0, 0, 1
        while i < len(text):  # the line, to its line feed: a loop of its own, which runs faster
            c = text[i]
            if c == 0x0A:
                break
            if c < 0x80:  # integer flags, no branches: this sees nearly every byte
                is_space = space[c]
                needs |= is_space & ((c != 0x20) | previous)
                previous = is_space
                folded[i] = lower[c]
                i += 1
                continue
            # A UTF-8 sequence: kept as it is if folding leaves it unchanged.
            size = 2 if c < 0xE0 else (3 if c < 0xF0 else 4)
            if size == 2:
                point = ((c & 0x1F) << 6) | (text[i + 1] & 0x3F)
            elif size == 3:
                point = ((c & 0x0F) << 12) | ((text[i + 1] & 0x3F) << 6) | (text[i + 2] & 0x3F)
            else:
                point = 0x10000  # beyond the table
            if point < 0x10000 and unchanged[point]:
                for k in range(size):
                    folded[i + k] = text[i + k]
            else:
                unknown = 1
            previous = 0
            i += size
        if i > start and previous:
            needs = 1  # a trailing space
        if unknown:
            other[line] = 1
        elif needs:
            n, gap = 0, False
            for k in range(start, i):
                if folded[k] < 0x80 and space[folded[k]]:
                    gap = n > 0
                else:
                    if gap:
                        squeezed[n] = 0x20
                        n += 1
                        gap = False
                    squeezed[n] = folded[k]
                    n += 1
            hashes[line] = _xxh64(squeezed, n)
        else:
            hashes[line] = _xxh64(folded[start:i], i - start)
        line += 1
        if i >= len(text):
            break
        i += 1
        start = i
    return hashes, other


def line_hashes(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``xxh64_intdigest(" ".join(line.split()).casefold().encode())`` of each line of
    UTF-8 ``text``, and which lines hold a character that the loop does not fold (an
    upper-case letter beyond ASCII, a space beyond ASCII, a character beyond the Basic
    Multilingual Plane): their hash is 0, for the caller to compute.

    >>> import xxhash
    >>> hashes, other = line_hashes("  Share\\tthis  PAGE \\n\\n“Café” — £5\\nÉTÉ".encode())
    >>> hashes[:3].tolist() == [xxhash.xxh64_intdigest(s.encode()) for s in ("share this page", "", "“café” — £5")]
    True
    >>> other.tolist()
    [False, False, False, True]
    """
    hashes, other = _line_hashes(
        np.frombuffer(text, dtype=np.uint8), _ASCII_LOWER, _ASCII_SPACE, _unchanged(), text.count(b"\n") + 1
    )
    return hashes, other.view(np.bool_)
