"""Fingerprints of articles for dedup: their normalised words, an exact-duplicate key,
word shingles and MinHash signatures (the same as datasketch's), LSH band fingerprints.

Normalisation before hashing (the same for exact and near duplicates):

- Unicode NFKC, then case folding (``Straße`` and ``STRASSE`` are the same word);
- words as ``pipeline.text`` defines them (runs of word characters): punctuation and all
  whitespace differences vanish;
- digits are kept as they are: "3 killed" and "30 killed" are different news.

>>> words("It’s 3 o'clock —  STRASSE!")
['it', 's', '3', 'o', 'clock', 'strasse']

Two articles are *exact* duplicates when their word sequences are equal (equal exact
keys), and *near* duplicates when the Jaccard similarity of their sets of word n-grams
(shingles) reaches the threshold (see ``policy``). Most text is fingerprinted by the
compiled loops of ``kernels`` and ``wordhash``, tested bit for bit against the
definitions here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import xxhash

from pipeline.dedup import kernels, wordhash
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.text import ASCII_WORD_BYTES, WORD


def words(text: str) -> list[str]:
    """The normalised words of a text (see the module docstring): the definition every
    faster path here is tested against."""
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _never_in_words() -> re.Pattern:
    """Non-ASCII punctuation, symbols and spaces that normalise to no word character."""
    chars = [
        chr(c) for c in (*range(0x80, 0x100), *range(0x2000, 0x2070), *range(0x20A0, 0x20C1))
        if not unicodedata.category(chr(c)).startswith("M")
        and not WORD.search(unicodedata.normalize("NFKC", chr(c)).casefold())
    ]
    return re.compile("[" + re.escape("".join(chars)) + "]")


_NEVER_IN_WORDS_RE = _never_in_words()
# ASCII bytes: word characters lower-cased, everything else a space.
_ASCII_WORDS = bytes(c if c in ASCII_WORD_BYTES else 0x20 for c in range(256)).lower()


def exact_key(tokens: Sequence[str] | Sequence[bytes]) -> str:
    """Fingerprint of a normalised word sequence: equal for exact duplicates."""
    if tokens and isinstance(tokens[0], bytes):
        return xxhash.xxh3_128_hexdigest(b" ".join(tokens))
    return xxhash.xxh3_128_hexdigest(" ".join(tokens).encode("utf-8"))


def shingles(tokens: Sequence[str], size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word ``size``-grams of ``tokens``.

    A text shorter than ``size`` words is one shingle (all its words), so short
    texts only ever match texts with exactly the same words; an empty text has none.

    >>> len(shingles("a b c d e f".split(), 5)), len(shingles(["a", "b"], 5)), len(shingles([], 5))
    (2, 1, 0)
    """
    hashes = token_hashes(tokens)
    return shingle_sets(hashes, np.array([len(hashes)]), size)[0]


def token_hashes(tokens: Sequence[str] | Sequence[bytes]) -> np.ndarray:
    """64-bit hashes of words (of their UTF-8 bytes)."""
    if tokens and isinstance(tokens[0], str):
        tokens = [t.encode("utf-8") for t in tokens]
    return np.fromiter(map(xxhash.xxh3_64_intdigest, tokens), dtype=np.uint64, count=len(tokens))


@dataclass
class Tokens:
    """The normalised words of many texts: their hashes end to end, and per text the
    number of words and the exact-duplicate key."""

    hashes: np.ndarray
    counts: np.ndarray
    exact: list[str]


def tokenize(texts: Sequence[str]) -> Tokens:
    """``token_hashes(words(t))`` and ``exact_key(words(t))`` of every text, in bulk.

    Texts that are ASCII once punctuation is blanked (most news) are translated with
    the byte table and split, hashed and joined by compiled loops over the whole batch,
    without one Python object per word; the others take the ``words()`` path one by one.

    >>> batch = tokenize(["It’s 3 o'clock —  STRASSE!", "", "Café au lait"])
    >>> batch.counts.tolist(), batch.exact[0] == exact_key(words("It’s 3 o'clock —  STRASSE!"))
    ([6, 0, 3], True)
    """
    translated: list[bytes] = []
    fast: list[int] = []
    slow: dict[int, list[bytes]] = {}
    for i, text in enumerate(texts):
        if not text.isascii():
            blanked = _NEVER_IN_WORDS_RE.sub(" ", text)
            if not blanked.isascii():
                slow[i] = [w.encode("utf-8") for w in words(text)]
                continue
            text = blanked
        translated.append(text.encode("ascii").translate(_ASCII_WORDS))
        fast.append(i)
    # The fast texts end to end, each followed by a space: words are runs of non-spaces.
    buffer = np.frombuffer(b" ".join(translated) + b" ", dtype=np.uint8)
    text_ends = np.cumsum([len(t) + 1 for t in translated], dtype=np.int64)
    starts, lengths, fast_counts, joined_words, joined_ends = kernels.split_words(buffer, text_ends)
    fast_hashes = wordhash.xxh3_64_words(buffer, starts, lengths)
    fast_starts = np.concatenate(([0], np.cumsum(fast_counts)))
    joined, joined_ends = joined_words.tobytes(), joined_ends.tolist()
    counts = np.zeros(len(texts), dtype=np.int64)
    exact: list[str] = [""] * len(texts)
    pieces: list[np.ndarray] = []
    position = {i: k for k, i in enumerate(fast)}
    for i in range(len(texts)):
        k = position.get(i)
        if k is None:
            tokens = slow[i]
            counts[i] = len(tokens)
            exact[i] = exact_key(tokens)
            pieces.append(token_hashes(tokens))
        else:
            counts[i] = fast_counts[k]
            exact[i] = xxhash.xxh3_128_hexdigest(joined[joined_ends[k - 1] if k else 0 : joined_ends[k]])
            pieces.append(fast_hashes[fast_starts[k] : fast_starts[k + 1]])
    hashes = np.concatenate(pieces) if pieces else np.empty(0, np.uint64)
    return Tokens(hashes, counts, exact)


def shingle_sets(hashes: np.ndarray, counts: np.ndarray, size: int) -> list[np.ndarray]:
    """``shingles()`` of many texts, given their word hashes end to end and their word
    counts (one compiled loop over the whole batch)."""
    counts = np.ascontiguousarray(counts, dtype=np.int64)
    flat, kept = kernels.shingle_kernel(np.ascontiguousarray(hashes, dtype=np.uint64), counts, size)
    return np.split(flat, np.cumsum(kept)[:-1].tolist()) if len(kept) else []


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays.

    >>> jaccard(np.array([1, 2, 3], dtype=np.uint64), np.array([2, 3, 4], dtype=np.uint64))
    0.5
    """
    if not len(a) and not len(b):
        return 1.0
    shared = int(kernels.shared_count_reaching(np.ascontiguousarray(a, dtype=np.uint64),
                                               np.ascontiguousarray(b, dtype=np.uint64), 0.0))  # every pair reaches 0
    return shared / (len(a) + len(b) - shared)


def jaccard_reaching(a: np.ndarray, b: np.ndarray, threshold: float) -> float | None:
    """``jaccard(a, b)`` when it reaches ``threshold``, else None, without finishing the
    merge of a pair that cannot reach it (``kernels.shared_count_reaching``): the
    similarity of a pair that does is the same number, computed the same way.

    >>> a, b = np.array([1, 2, 3, 4, 5], dtype=np.uint64), np.array([2, 3, 4, 5, 6], dtype=np.uint64)
    >>> jaccard_reaching(a, b, 0.6), jaccard_reaching(a, b, 0.7), jaccard(a, b)
    (0.6666666666666666, None, 0.6666666666666666)
    """
    if not len(a) and not len(b):
        return 1.0
    shared = int(kernels.shared_count_reaching(np.ascontiguousarray(a, dtype=np.uint64),
                                               np.ascontiguousarray(b, dtype=np.uint64), threshold))
    if shared < 0:
        return None
    score = shared / (len(a) + len(b) - shared)
    return score if score >= threshold else None


def _to_32bit(shingle_hashes: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit input of the affine32 scheme."""
    return ((shingle_hashes >> np.uint64(32)) ^ shingle_hashes).astype(np.uint32)


def affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``datasketch.MinHash(num_perm, seed, scheme="affine32").permutations``: odd
    multipliers and offsets drawn as datasketch draws them. Made here, without importing
    datasketch, whose package imports scipy's integrators for its LSH (0.75 s at each
    night's start); the tests compare them with datasketch's own.

    >>> a, b = affine32_permutations(4, 1)
    >>> bool((a % 2 == 1).all()), a.dtype.name, b.dtype.name
    (True, 'uint32', 'uint32')
    """
    draw = np.random.RandomState(seed)
    a = draw.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


class Signer:
    """MinHash signatures computed in bulk, equal to datasketch's.

    ``Signer(cfg).signatures([s])[0]`` equals the hash values of
    ``MinHash(num_perm, seed, scheme="affine32", hashfunc=int)`` updated with the
    32-bit folds of the shingle hashes; only the loop is compiled (numba) instead of
    Python's.
    """

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        a, b = affine32_permutations(config.num_perm, config.seed)
        self._a = a.astype(np.uint32)
        self._b = b.astype(np.uint32)

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many articles, shape (len(shingle_sets), num_perm), uint32."""
        out = np.empty((len(shingle_sets), len(self._a)), dtype=np.uint32)
        if not len(shingle_sets):
            return out
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=len(shingle_sets))
        values = kernels.fmix(_to_32bit(np.concatenate(shingle_sets)), 32)  # datasketch's own pre-mix
        kernels.signature_kernel(values, lengths, self._a, self._b, out)
        return out


def band_fingerprints(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """Per article and band, a signed 64-bit fingerprint of (band number, band values):
    equal band keys give equal fingerprints; different ones collide with probability
    2^-64 (which would only add a candidate, and candidates are confirmed by Jaccard)."""
    bands = np.ascontiguousarray(signatures, dtype=np.uint32)[:, : config.bands * config.rows]
    values = bands.reshape(len(bands), config.bands, config.rows).astype(np.uint64)
    mixed = np.broadcast_to(np.arange(1, config.bands + 1, dtype=np.uint64), values.shape[:2]).copy()
    for j in range(config.rows):
        mixed = kernels.fmix(mixed * kernels.GOLDEN + values[:, :, j], 64)
    return mixed.view(np.int64)


def load_kernels() -> None:
    """Compile the fingerprinting loops, or load them from numba's cache (about 0.3 s),
    in a process about to fork workers, so that they inherit them ready to run."""
    docs = make_docs([{"key": "", "id": "", "text": "one two three four five six"}], "", DedupConfig())
    jaccard(docs[0].shingles, docs[0].shingles)
    jaccard_reaching(docs[0].shingles, docs[0].shingles, 0.5)


def make_docs(
    records: Sequence[dict], night: str, config: DedupConfig, first_rank: int = 0
) -> list[Doc]:
    """Dedup's view of articles (dicts with ``key``, ``id``, ``text``, ``title``, ``published``).

    Ranks continue from ``first_rank`` so that ranks follow the night's input order.
    """
    signer = Signer(config)
    tokens = tokenize([r["text"] for r in records])
    sets = shingle_sets(tokens.hashes, tokens.counts, config.shingle_size)
    signatures = signer.signatures(sets)
    return [
        Doc(
            key=r["key"],
            id=r["id"],
            night=night,
            rank=first_rank + i,
            n_words=n_words,
            exact=exact,
            shingles=shingle_set,
            signature=signature,
            title=r.get("title"),
            published=r.get("published"),
        )
        for i, (r, n_words, exact, shingle_set, signature) in enumerate(
            zip(records, tokens.counts.tolist(), tokens.exact, sets, signatures)
        )
    ]
