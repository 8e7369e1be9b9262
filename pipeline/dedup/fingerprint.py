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
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numba
import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.minhash import _fmix

from pipeline.dedup import wordhash

_WORD_RE = re.compile(r"\w+")
# Odd 64-bit multiplier combining the word hashes of a shingle (polynomial hash).
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

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


def _never_in_words() -> re.Pattern:
    """Non-ASCII punctuation, symbols and spaces that normalise to no word character."""
    chars = [
        chr(c) for c in (*range(0x80, 0x100), *range(0x2000, 0x2070), *range(0x20A0, 0x20C1))
        if not unicodedata.category(chr(c)).startswith("M")
        and not _WORD_RE.search(unicodedata.normalize("NFKC", chr(c)).casefold())
    ]
    return re.compile("[" + re.escape("".join(chars)) + "]")


_NEVER_IN_WORDS_RE = _never_in_words()
# ASCII bytes: word characters lower-cased, everything else a space.
_ASCII_WORDS = bytes(
    (c if chr(c).isalnum() or c == 0x5F else 0x20) if c < 0x80 else 0x20 for c in range(256)
).lower()


def word_bytes(text: str) -> list[bytes]:
    """``words(text)`` as UTF-8 bytes, quickly: text that is ASCII once its punctuation is
    blanked (most news) is split with a byte table instead of NFKC and a regex.

    >>> word_bytes("It’s 3 o'clock —  STRASSE!") == [w.encode() for w in words("It’s 3 o'clock —  STRASSE!")]
    True
    """
    if not text.isascii():
        blanked = _NEVER_IN_WORDS_RE.sub(" ", text)
        if not blanked.isascii():
            return [w.encode("utf-8") for w in words(text)]
        text = blanked
    return text.encode("ascii").translate(_ASCII_WORDS).split()


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
    """``token_hashes(word_bytes(t))`` and ``exact_key(word_bytes(t))`` of every text, in bulk.

    Texts that are ASCII once punctuation is blanked (most news) are translated with
    the byte table and split, hashed and joined by compiled loops over the whole batch,
    without one Python object per word; the others take the ``words()`` path one by one.

    >>> batch = tokenize(["It’s 3 o'clock —  STRASSE!", "", "Café au lait"])
    >>> batch.counts.tolist(), batch.exact[0] == exact_key(word_bytes("It’s 3 o'clock —  STRASSE!"))
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
    starts, lengths, fast_counts, joined_words, joined_ends = _split_words(buffer, text_ends)
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
    flat, kept = _shingle_kernel(np.ascontiguousarray(hashes, dtype=np.uint64), counts, size)
    return np.split(flat, np.cumsum(kept)[:-1].tolist()) if len(kept) else []


@numba.njit(cache=True, nogil=True)
def _split_words(buffer: np.ndarray, text_ends: np.ndarray):
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
def _shingle_kernel(hashes: np.ndarray, counts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
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
                combined = combined * _SHINGLE_MULTIPLIER + hashes[start + i + offset]
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


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays.

    >>> jaccard(np.array([1, 2, 3], dtype=np.uint64), np.array([2, 3, 4], dtype=np.uint64))
    0.5
    """
    if not len(a) and not len(b):
        return 1.0
    shared = int(_shared_count(np.ascontiguousarray(a, dtype=np.uint64), np.ascontiguousarray(b, dtype=np.uint64)))
    return shared / (len(a) + len(b) - shared)


@numba.njit(cache=True, nogil=True)
def _shared_count(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted unique arrays share (one merge pass)."""
    i, j, shared = 0, 0, 0
    while i < len(a) and j < len(b):
        if a[i] < b[j]:
            i += 1
        elif a[i] > b[j]:
            j += 1
        else:
            shared += 1
            i += 1
            j += 1
    return shared


def _to_32bit(shingle_hashes: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit input of the affine32 scheme."""
    return ((shingle_hashes >> np.uint64(32)) ^ shingle_hashes).astype(np.uint32)


class Signer:
    """MinHash signatures computed in bulk, equal to datasketch's.

    ``Signer(cfg).signatures([s])[0]`` equals the hash values of
    ``MinHash(num_perm, seed, scheme="affine32", hashfunc=int)`` updated with the
    32-bit folds of the shingle hashes; only the loop is compiled (numba) instead of
    Python's.
    """

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        a, b = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme).permutations
        self._a = a.astype(np.uint32)
        self._b = b.astype(np.uint32)

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many articles, shape (len(shingle_sets), num_perm), uint32."""
        out = np.empty((len(shingle_sets), len(self._a)), dtype=np.uint32)
        if not len(shingle_sets):
            return out
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=len(shingle_sets))
        values = _fmix(_to_32bit(np.concatenate(shingle_sets)), 32)  # datasketch's own pre-mix
        _signature_kernel(values, lengths, self._a, self._b, out)
        return out

    def lean(self, signature: np.ndarray) -> LeanMinHash:
        """A datasketch LeanMinHash holding a computed signature."""
        return LeanMinHash(seed=self.config.seed, hashvalues=signature, scheme=self.config.scheme)


@numba.njit(cache=True, nogil=True)
def _signature_kernel(values: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray,
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


def band_keys(signatures: np.ndarray, config: DedupConfig) -> list[list[bytes]]:
    """Per article, its LSH band keys: exactly the keys datasketch's ``MinHashLSH`` makes
    (``_byteswap`` of each band of the hash values), computed for all articles at once."""
    swapped = np.ascontiguousarray(signatures, dtype=np.uint32).byteswap()
    width = config.rows * swapped.itemsize
    blob = swapped[:, : config.bands * config.rows].tobytes()  # one row after another
    return [
        [blob[start + b * width : start + (b + 1) * width] for b in range(config.bands)]
        for start in range(0, len(blob), config.bands * width)
    ]


_MIX = np.uint64(0x9E3779B97F4A7C15)


def band_fingerprints(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """Per article and band, a signed 64-bit fingerprint of (band number, band values):
    equal band keys give equal fingerprints; different ones collide with probability
    2^-64 (which would only add a candidate, and candidates are confirmed by Jaccard)."""
    bands = np.ascontiguousarray(signatures, dtype=np.uint32)[:, : config.bands * config.rows]
    values = bands.reshape(len(bands), config.bands, config.rows).astype(np.uint64)
    mixed = np.broadcast_to(np.arange(1, config.bands + 1, dtype=np.uint64), values.shape[:2]).copy()
    for j in range(config.rows):
        mixed = _fmix(mixed * _MIX + values[:, :, j], 64)
    return mixed.view(np.int64)


class BandIndex:
    """datasketch's ``MinHashLSH`` (its hash tables and key storage), fed with band keys
    computed in bulk instead of one ``LeanMinHash`` at a time: what ``insert`` and
    ``query`` do, without recomputing each band's key on every call."""

    def __init__(self, config: DedupConfig) -> None:
        self.lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))

    def insert(self, key: str, bands: Sequence[bytes | None]) -> None:
        """Index ``key`` under its band keys (None: a band left out, see ``deduplicate``)."""
        self.lsh.keys.insert(key, *(band for band in bands if band is not None))
        for band, table in zip(bands, self.lsh.hashtables):
            if band is not None:
                table.insert(band, key)

    def query(self, bands: Sequence[bytes | None]) -> set[str]:
        found: set[str] = set()
        for band, table in zip(bands, self.lsh.hashtables):
            if band is not None:
                found.update(table.get(band))
        return found


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
    tonight = set(pool)
    if history is not None:
        for doc in docs:
            for old in history(doc):
                pool.setdefault(old.key, old)
    order = sorted(pool.values(), key=priority(config.keep))
    rank = {d.key: i for i, d in enumerate(order)}

    index = BandIndex(config)
    # A band key no other article has can bring no candidate: only the shared band
    # keys enter the index and are looked up, and an article sharing none skips it.
    shingled = [d for d in order if len(d.shingles)]
    bands: dict[str, list[bytes | None]] = {}
    if shingled:
        fingerprints = band_fingerprints(np.stack([d.signature for d in shingled]), config)
        _, inverse, counts = np.unique(fingerprints.ravel(), return_inverse=True, return_counts=True)
        shared = (counts[inverse] > 1).reshape(fingerprints.shape)
        sharing = np.flatnonzero(shared.any(axis=1)).tolist()
        keys = band_keys(np.stack([shingled[i].signature for i in sharing]), config) if sharing else []
        for i, row in zip(sharing, keys):
            bands[shingled[i].key] = [key if share else None for key, share in zip(row, shared[i].tolist())]
    kept: dict[str, Doc] = {}
    kept_by_exact: dict[str, list[Doc]] = {}
    result = DedupResult()

    exact_counts = Counter(d.exact for d in order)
    for doc in order:
        is_tonight = doc.key in tonight
        if doc.key not in bands and exact_counts[doc.exact] == 1:
            # Shares no band key and no exact key with any other article: it is kept,
            # and no other article can ever find it.
            if is_tonight:
                result.kept.append(doc)
            continue
        match = _best_match(
            doc, bands.get(doc.key), kept, kept_by_exact, index, config, rank,
            eligible=(lambda key: True) if is_tonight else tonight.__contains__,
        )
        if match is None:
            kept[doc.key] = doc
            kept_by_exact.setdefault(doc.exact, []).append(doc)
            if doc.key in bands:
                index.insert(doc.key, bands[doc.key])
            if is_tonight:
                result.kept.append(doc)
        elif is_tonight:
            result.dropped[doc.key] = match
        else:
            result.superseded.append((doc, match))
    return result


def _best_match(
    doc: Doc,
    bands: list[bytes | None] | None,
    kept: dict[str, Doc],
    kept_by_exact: dict[str, list[Doc]],
    index: "BandIndex",
    config: DedupConfig,
    rank: dict[str, int],
    eligible: Callable[[str], bool],
) -> Match | None:
    """The kept article ``doc`` duplicates, if any: exact first, then the most similar
    (ties: the one first in the policy's order). Only ``eligible`` keys are considered."""
    for same in kept_by_exact.get(doc.exact, ()):
        if eligible(same.key):
            return Match(same, 1.0, "exact")
    if bands is None:
        return None
    best: tuple[float, int, Doc] | None = None
    for key in index.query(bands):
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


def load_kernels() -> None:
    """Compile the fingerprinting loops, or load them from numba's cache (about 0.3 s),
    in a process about to fork workers, so that they inherit them ready to run."""
    docs = make_docs([{"key": "", "id": "", "text": "one two three four five six"}], "", DedupConfig())
    jaccard(docs[0].shingles, docs[0].shingles)


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
