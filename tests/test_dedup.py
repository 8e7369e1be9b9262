"""Dedup: normalisation, shingles, signatures equal to datasketch's, and the keep policy."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import orjson
import pytest
from datasketch import MinHash

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.fingerprint import Signer, _to_32bit, jaccard, make_docs, shingles, words
from pipeline.dedup.policy import deduplicate

BASE = (
    "The harbour authority said on Monday that the new ferry terminal would open in the spring, "
    "after two years of delays caused by a dispute over the size of the car park and the cost of "
    "moving the old fish market to the southern quay of the town"
)


def docs(texts: list[str], config: DedupConfig, night: str = "2026-11-27", **extra) -> list:
    records = [{"key": f"k{i}", "id": f"a{i}", "text": t, **extra} for i, t in enumerate(texts)]
    return make_docs(records, night, config)


def test_normalisation_ignores_case_punctuation_and_spacing_but_not_digits():
    assert words("The  Café's “BIG” day!") == words("the café s big day")
    assert words("3 killed") != words("30 killed")


def test_shingle_sets_and_jaccard():
    a = shingles(words("one two three four five six"), 5)
    b = shingles(words("one two three four five seven"), 5)
    assert (len(a), len(b)) == (2, 2)
    assert jaccard(a, b) == 1 / 3


def test_shingle_sets_equal_their_definition_in_plain_python():
    from pipeline.dedup.fingerprint import shingle_sets

    multiplier, mask = 0x9E3779B97F4A7C15, 2**64 - 1
    rng = np.random.default_rng(11)
    counts = [0, 1, 4, 5, 6, 40, 3, 0, 12, 200]
    # few distinct words, so that texts repeat shingles
    hashes = rng.choice(rng.integers(0, 2**64 - 1, size=2, dtype=np.uint64), size=sum(counts))
    expected, start = [], 0
    for n in counts:
        words_of = [int(h) for h in hashes[start : start + n]]
        width = min(n, 5)
        found = set()
        for i in range(n - width + 1 if n else 0):
            combined = words_of[i]
            for word in words_of[i + 1 : i + width]:
                combined = (combined * multiplier + word) & mask
            found.add(combined)
        expected.append(sorted(found))
        start += n
    assert [s.tolist() for s in shingle_sets(hashes, np.array(counts), 5)] == expected
    assert [len(e) for e in expected][:4] == [0, 1, 1, 1] and len(expected[9]) <= 2**5


def test_signatures_equal_datasketch_minhash():
    config = DedupConfig()
    sets = [shingles(words(t), 5) for t in (BASE, BASE + " today", "short text", "")]
    signatures = Signer(config).signatures(sets)
    for shingle_set, signature in zip(sets, signatures):
        reference = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=int)
        reference.update_batch(_to_32bit(shingle_set).tolist())
        assert np.array_equal(reference.hashvalues, signature)


@pytest.mark.parametrize("num_perm, seed", [(128, 1), (256, 7), (1, 0), (64, 2**31 + 5)])
def test_the_permutations_are_datasketchs(num_perm, seed):
    from pipeline.dedup.fingerprint import affine32_permutations

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    mine = affine32_permutations(num_perm, seed)
    assert np.array_equal(mine[0], a) and np.array_equal(mine[1], b) and mine[0].dtype == a.dtype


def test_signatures_of_a_large_batch_equal_datasketch_minhash():
    rng = np.random.default_rng(5)
    sets = [np.unique(rng.integers(0, 2**64 - 1, size=int(n), dtype=np.uint64)) for n in rng.integers(0, 900, 400)]
    assert sum(map(len, sets)) > 150_000
    signatures = Signer(DedupConfig()).signatures(sets)
    for shingle_set, signature in list(zip(sets, signatures))[::13]:
        reference = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=int)
        reference.update_batch(_to_32bit(shingle_set).tolist())
        assert np.array_equal(reference.hashvalues, signature)


def test_exact_duplicates_after_normalisation():
    other = "A different story about the city council and its budget for the coming year, with new taxes"
    result = deduplicate(docs([BASE, BASE.upper() + " !!", other], DedupConfig()), DedupConfig())
    assert [d.key for d in result.kept] == ["k0", "k2"]
    assert {k: (m.dup_of.key, m.similarity, m.method) for k, m in result.dropped.items()} == {
        "k1": ("k0", 1.0, "exact")
    }


def test_near_duplicate_is_confirmed_by_real_jaccard():
    config = DedupConfig()
    updated = BASE + ", a spokesman added"
    d = docs([BASE, updated], config)
    result = deduplicate(d, config)
    match = result.dropped["k1"]
    assert (match.dup_of.key, match.method) == ("k0", "minhash")
    assert match.similarity == round(jaccard(d[0].shingles, d[1].shingles), 6)
    assert match.similarity >= 0.8


def test_similar_but_below_threshold_is_kept():
    config = DedupConfig(threshold=0.95)
    result = deduplicate(docs([BASE, BASE + ", a spokesman added"], config), config)
    assert result.dropped == {}


def _chain() -> list[str]:
    # A ~ B and B ~ C at or above 0.8, but A and C below it.
    words_ = BASE.split()
    a = " ".join(words_)
    b = " ".join(words_[4:] + ["late", "edition"])
    c = " ".join(words_[8:] + ["late", "edition", "with", "corrections", "added", "by", "editors"])
    return [a, b, c]


def test_no_chaining_dup_of_always_names_a_kept_article():
    config = DedupConfig(threshold=0.8)
    d = docs(_chain(), config)
    sim = lambda i, j: jaccard(d[i].shingles, d[j].shingles)  # noqa: E731
    assert sim(0, 1) >= 0.8 and sim(1, 2) >= 0.8 and sim(0, 2) < 0.8
    result = deduplicate(d, config)
    assert [doc.key for doc in result.kept] == ["k0", "k2"]
    assert result.dropped["k1"].dup_of.key == "k0"


def test_keep_longest_and_latest():
    texts = [BASE, BASE + ", a spokesman added on Tuesday"]
    longest = DedupConfig(keep="longest")
    assert [d.key for d in deduplicate(docs(texts, longest), longest).kept] == ["k1"]
    latest = DedupConfig(keep="latest")
    result = deduplicate(docs(texts[::-1], latest), latest)
    assert [d.key for d in result.kept] == ["k1"]
    assert result.dropped["k0"].dup_of.key == "k1"


def test_short_articles_are_matched_exactly_never_collapsed():
    config = DedupConfig()
    result = deduplicate(docs(["Goal!", "Rain stops play", "Rain stops play.", "Match abandoned", ""], config), config)
    assert [d.key for d in result.kept] == ["k0", "k1", "k3", "k4"]
    assert {k: m.method for k, m in result.dropped.items()} == {"k2": "exact"}


def test_same_input_same_decisions():
    config = DedupConfig(threshold=0.7)
    first = deduplicate(docs(_chain() * 3, config), config)
    again = deduplicate(docs(_chain() * 3, config), config)
    assert [d.key for d in first.kept] == [d.key for d in again.kept]
    assert {k: m.dup_of.key for k, m in first.dropped.items()} == {k: m.dup_of.key for k, m in again.dropped.items()}


def test_bbc_identical_pairs_are_all_found(corpora):
    with gzip.open(corpora / "bbc" / "articles.jsonl.gz") as handle:
        records = [orjson.loads(line) for line in handle]
    identical = [
        (p["a"], p["b"]) for p in map(orjson.loads, (corpora / "bbc" / "dup_pairs.jsonl").read_bytes().splitlines())
        if p["bytes_equal"]
    ]
    assert len(identical) == 98
    config = DedupConfig()
    d = make_docs([{"key": r["id"], "id": r["id"], "text": r["text"]} for r in records], "n", config)
    result = deduplicate(d, config)
    for a, b in identical:
        first, second = sorted((a, b), key=lambda k: [r["id"] for r in records].index(k))
        assert second in result.dropped and result.dropped[second].dup_of.key == first


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def normalised_bytes(text: str) -> list[bytes]:
    return [w.encode("utf-8") for w in words(text)]


from pipeline.dedup.fingerprint import exact_key, shingle_sets, token_hashes, tokenize  # noqa: E402
from pipeline.dedup.kernels import fmix  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=40))
def test_the_finalizer_is_datasketchs_pre_mix(values):
    """Our MurmurHash3 finalizer against datasketch's own MinHash: a MinHash updated with
    integers (identity hash) holds min over permutations of a*fmix32(v)+b."""
    from datasketch import MinHash

    folded = np.array([v & 0xFFFFFFFF for v in values], dtype=np.uint32)
    reference = MinHash(num_perm=16, seed=3, scheme="affine32", hashfunc=int)
    reference.update_batch(folded.tolist())
    a, b = (p.astype(np.uint64) for p in reference.permutations)
    mixed = fmix(folded, 32).astype(np.uint64)
    expected = ((a[:, None] * mixed[None, :] + b[:, None]) & 0xFFFFFFFF).min(axis=1) if len(values) else None
    if expected is not None:
        assert reference.hashvalues.tolist() == expected.tolist()
    wide = np.array(values, dtype=np.uint64)
    by_hand = [_fmix64(v) for v in values]
    assert fmix(wide, 64).tolist() == by_hand


def _fmix64(h: int) -> int:
    """MurmurHash3's fmix64, written out."""
    mask = 2**64 - 1
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    return h ^ (h >> 33)
from pipeline.dedup.wordhash import xxh3_64_words  # noqa: E402

TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80) | st.text(
    alphabet="abc DEF’—é\u00a0,.-_7", max_size=80
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=6))
def test_batch_tokenizing_equals_one_text_at_a_time(texts):
    batch = tokenize(texts)
    expected = [normalised_bytes(t) for t in texts]  # the definition, one text at a time
    assert batch.counts.tolist() == [len(tokens) for tokens in expected]
    assert batch.exact == [exact_key(tokens) for tokens in expected]
    flat = [w for tokens in expected for w in tokens]
    assert batch.hashes.tolist() == token_hashes(flat).tolist()
    sets = shingle_sets(batch.hashes, batch.counts, 5)
    assert [s.tolist() for s in sets] == [shingles(tokens, 5).tolist() for tokens in expected]


def test_vector_xxh3_equals_the_library_for_every_length():
    import xxhash

    rng = np.random.default_rng(3)
    words = [rng.integers(0, 256, size=n, dtype=np.uint8).tobytes() for n in list(range(1, 70)) * 30]
    buffer = np.frombuffer(b"".join(words), dtype=np.uint8)
    lengths = np.array([len(w) for w in words])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    assert xxh3_64_words(buffer, starts, lengths).tolist() == [xxhash.xxh3_64_intdigest(w) for w in words]


def test_docs_saved_and_read_back(tmp_path):
    """A docs folder (the sign stage's, a history night's) read back as the night's dedup
    reads it: the same docs, arrays writable and of plain ndarray type (so the compiled
    loops do not compile again), an empty shard included; the appended .npy files are
    what numpy writes, header aside."""
    from pipeline.dedup.fingerprint import jaccard, make_docs
    from pipeline.dedup.night import NightSigns
    from pipeline.io.arrays import DocsWriter, save_docs

    config = DedupConfig()
    texts = ["The ferry to Varn leaves at nine every morning except on Sundays.",
             "The ferry to Varn leaves at nine every morning except on Sundays and holidays.", "Short one."]
    records = [{"key": f"k{i}", "id": f"id-{i}", "text": t, "title": f"Título {i}", "published": None}
               for i, t in enumerate(texts)]
    docs = make_docs(records, "2026-11-27", config)
    save_docs(tmp_path / "a.docs", docs, config.num_perm)
    save_docs(tmp_path / "empty.docs", [], config.num_perm)
    loaded = NightSigns([tmp_path / "a.docs"], "2026-11-27", config).docs(range(len(docs)), stored=False)
    assert [(d.key, d.id, d.night, d.rank, d.n_words, d.exact, d.title, d.published) for d in loaded] == [
        (d.key, d.id, d.night, d.rank, d.n_words, d.exact, d.title, d.published) for d in docs]
    for mine, theirs in zip(loaded, docs):
        assert type(mine.shingles) is np.ndarray and mine.shingles.flags.writeable
        assert np.array_equal(mine.shingles, theirs.shingles) and mine.shingles.dtype == theirs.shingles.dtype
        assert np.array_equal(mine.signature, theirs.signature)
    assert jaccard(loaded[0].shingles, loaded[1].shingles) == jaccard(docs[0].shingles, docs[1].shingles) > 0.5
    empty = NightSigns([tmp_path / "empty.docs"], "2026-11-27", config)
    assert len(empty) == 0 and empty.docs([]) == []
    signatures = np.load(tmp_path / "a.docs" / "signatures.npy")
    assert np.array_equal(signatures, np.stack([d.signature for d in docs])) and signatures.dtype == np.uint32
    # Written chunk by chunk, the same files.
    with DocsWriter(tmp_path / "b.docs", config.num_perm) as writer:
        for doc in docs:
            writer.add([doc])
        writer.finish()
    assert {p.name: p.read_bytes() for p in (tmp_path / "b.docs").iterdir()} == {
        p.name: p.read_bytes() for p in (tmp_path / "a.docs").iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.docs", "b.docs", "empty.docs"]  # no temporaries


def test_a_docs_folder_cut_short_leaves_nothing_in_place(tmp_path):
    from pipeline.dedup.fingerprint import make_docs
    from pipeline.io.arrays import DocsWriter

    config = DedupConfig()
    docs = make_docs([{"key": "k", "id": "i", "text": "one two three four five six"}], "2026-11-27", config)
    with pytest.raises(RuntimeError):
        with DocsWriter(tmp_path / "a.docs", config.num_perm) as writer:
            writer.add(docs)
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_the_compiled_loops_load_without_scipys_linear_algebra():
    # pipeline.jit hides scipy.linalg from numba's first load (0.15-0.2 s of every night),
    # and only from it: the loops run, and scipy.linalg imports afterwards.
    code = ("import sys, pipeline.jit\n"
            "from pipeline.language import Identifier\n"
            "print(Identifier.shared().classify('The council voted on the budget on Tuesday.')[0])\n"
            "print('scipy.linalg' in sys.modules)\n"
            "import scipy.linalg\n"
            "print(scipy.linalg.norm([3.0, 4.0]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["en", "False", "5.0"]
