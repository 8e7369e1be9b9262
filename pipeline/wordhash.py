"""64-bit hashes of many words at once: ``xxhash.xxh3_64_intdigest`` computed with numpy.

Dedup hashes every word of every article (about 1.2 million words in a 2,500-article
shard); one Python call per word costs more than the rest of the fingerprinting.
XXH3 hashes an input of up to 16 bytes with a few loads, multiplications and shifts
and no loop, so those words (nearly all words) are hashed as arrays here, with the
same results bit for bit as the xxhash library (tested against it for every length).
Longer words go to the library one by one.

>>> import xxhash
>>> words = [b"a", b"fox", b"jumps", b"reportedly", b"internationalization"]
>>> buffer = np.frombuffer(b" ".join(words), dtype=np.uint8)
>>> lengths = np.array([len(w) for w in words])
>>> starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
>>> xxh3_64_words(buffer, starts, lengths).tolist() == [xxhash.xxh3_64_intdigest(w) for w in words]
True
"""

from __future__ import annotations

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
_LOW32 = np.uint64(0xFFFFFFFF)
# Inputs longer than this are hashed by the library.
MAX_VECTOR_BYTES = 16


def _le(offset: int, size: int) -> np.uint64:
    return np.uint64(int.from_bytes(_SECRET[offset : offset + size], "little"))


# Seed 0: the bit flips of each length class are constants.
_FLIP_1TO3 = np.uint64(int(_le(0, 4)) ^ int(_le(4, 4)))
_FLIP_4TO8 = np.uint64(int(_le(8, 8)) ^ int(_le(16, 8)))
_FLIP_9TO16_LO = np.uint64(int(_le(24, 8)) ^ int(_le(32, 8)))
_FLIP_9TO16_HI = np.uint64(int(_le(40, 8)) ^ int(_le(48, 8)))


def _u64(value: int) -> np.uint64:
    return np.uint64(value)


def _rotl(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << _u64(bits)) | (x >> _u64(64 - bits))


def _mul128_fold64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a * b as 128 bits): low half XOR high half, from 32-bit halves."""
    a0, a1, b0, b1 = a & _LOW32, a >> _u64(32), b & _LOW32, b >> _u64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> _u64(32)) + (p01 & _LOW32) + (p10 & _LOW32)
    low = (p00 & _LOW32) | (middle << _u64(32))
    high = p11 + (p01 >> _u64(32)) + (p10 >> _u64(32)) + (middle >> _u64(32))
    return low ^ high


def _byteswap64(x: np.ndarray) -> np.ndarray:
    return x.byteswap()


def _unaligned(padded: np.ndarray, dtype: str, size: int) -> np.ndarray:
    """The little-endian integer starting at each byte: one strided view of the buffer,
    so a load at any offset is one fancy index."""
    return np.ndarray(shape=(size,), dtype=dtype, buffer=padded, strides=(1,))


def xxh3_64_words(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``xxh3_64_intdigest(bytes(buffer[s : s + n]))`` for each start s and length n >= 1."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.empty(len(starts), dtype=np.uint64)
    if not len(starts):
        return out
    buffer = np.asarray(buffer, dtype=np.uint8)
    padded = np.concatenate((buffer, np.zeros(8, np.uint8)))
    load32, load64 = _unaligned(padded, "<u4", len(buffer)), _unaligned(padded, "<u8", len(buffer))
    with np.errstate(over="ignore"):
        small = np.flatnonzero(lengths <= 3)
        if len(small):
            s, n = starts[small], lengths[small]
            c1 = padded[s].astype(np.uint64)
            c2 = padded[s + (n >> 1)].astype(np.uint64)
            c3 = padded[s + n - 1].astype(np.uint64)
            combined = (c1 << _u64(16)) | (c2 << _u64(24)) | c3 | (n.astype(np.uint64) << _u64(8))
            h = combined ^ _FLIP_1TO3
            h ^= h >> _u64(33)
            h *= _PRIME64_2
            h ^= h >> _u64(29)
            h *= _PRIME64_3
            h ^= h >> _u64(32)
            out[small] = h
        middle = np.flatnonzero((lengths >= 4) & (lengths <= 8))
        if len(middle):
            s, n = starts[middle], lengths[middle]
            first = load32[s].astype(np.uint64)
            last = load32[s + n - 4].astype(np.uint64)
            h = (last + (first << _u64(32))) ^ _FLIP_4TO8
            h ^= _rotl(h, 49) ^ _rotl(h, 24)
            h *= _PRIME_MX2
            h ^= (h >> _u64(35)) + n.astype(np.uint64)
            h *= _PRIME_MX2
            h ^= h >> _u64(28)
            out[middle] = h
        large = np.flatnonzero((lengths >= 9) & (lengths <= MAX_VECTOR_BYTES))
        if len(large):
            s, n = starts[large], lengths[large]
            low = load64[s].astype(np.uint64) ^ _FLIP_9TO16_LO
            high = load64[s + n - 8].astype(np.uint64) ^ _FLIP_9TO16_HI
            h = n.astype(np.uint64) + _byteswap64(low) + high + _mul128_fold64(low, high)
            h ^= h >> _u64(37)
            h *= _PRIME_MX1
            h ^= h >> _u64(32)
            out[large] = h
    for i in np.flatnonzero(lengths > MAX_VECTOR_BYTES).tolist():
        out[i] = xxhash.xxh3_64_intdigest(padded[starts[i] : starts[i] + lengths[i]].tobytes())
    return out
