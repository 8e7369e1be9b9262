"""The night's dedup on compact arrays decides as the keep policy decides on every
article held whole: checked against the policy written plainly (every kept article
compared by its band keys, one article at a time), for each keep policy, with earlier
nights' articles in the pool, and through the sign folders a night writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.synthetic import TextGenerator
from pipeline.dedup import policy
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.fingerprint import band_fingerprints, jaccard, make_docs
from pipeline.dedup.night import NightSigns, decide, kept_for_history
from pipeline.dedup.policy import ARENA_BYTES, ShingleArena, deduplicate, priority
from pipeline.io.arrays import ShingleCache, ShingleFile, save_docs, shingle_array

NIGHT, EARLIER = "2026-11-27", "2026-11-26"


def plain_policy(docs, config, history):
    """The keep policy as first written: the whole pool sorted, every kept article in a
    band index, candidates confirmed by Jaccard. (key -> (dup_of key, similarity,
    method)) for tonight's dropped and the earlier nights' superseded."""
    pool = {d.key: d for d in docs}
    tonight = set(pool)
    for doc in docs:
        for old in history.get(doc.key, ()):
            pool.setdefault(old.key, old)
    order = sorted(pool.values(), key=priority(config.keep))
    rank = {d.key: i for i, d in enumerate(order)}
    prints = {d.key: band_fingerprints(d.signature[None, :], config)[0].tolist() for d in order if len(d.shingles)}
    index: dict[int, list[str]] = {}
    kept: dict[str, object] = {}
    out = {}
    for doc in order:
        mine = doc.key in tonight
        eligible = (lambda key: True) if mine else tonight.__contains__
        match = next(((k.key, 1.0, "exact") for k in kept.values() if k.exact == doc.exact and eligible(k.key)), None)
        if match is None and doc.key in prints:
            found = {key for value in prints[doc.key] for key in index.get(value, ()) if eligible(key)}
            scored = [(jaccard(shingle_array(doc.shingles), shingle_array(kept[key].shingles)), -rank[key], key)
                      for key in found]
            scored = [s for s in scored if s[0] >= config.threshold]
            if scored:
                best = max(scored)
                match = (best[2], round(best[0], 6), "minhash")
        if match is None:
            kept[doc.key] = doc
            for value in prints.get(doc.key, ()):
                index.setdefault(value, []).append(doc.key)
        else:
            out[doc.key] = match
    return out


def night_of(seed: int, count: int, night: str, config: DedupConfig, start: int = 0, sources=()):
    """Articles with exact copies, near copies (of tonight's or of ``sources``' texts),
    short ones and published dates."""
    generator = TextGenerator(seed=seed)
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for i in range(count):
        roll = rng.random()
        pick = list(sources) + texts
        if pick and roll < 0.15:
            texts.append(pick[int(rng.integers(0, len(pick)))].upper())
        elif pick and roll < 0.35:
            texts.append(generator.near_copy(pick[int(rng.integers(0, len(pick)))], changes=int(rng.integers(0, 3))))
        elif roll < 0.4:
            texts.append("Short text here")
        else:
            texts.append(generator.article(words=int(rng.integers(40, 120)))[1])
    records = [{"key": f"{night}/a{start + i}", "id": f"{night}-{start + i}", "text": t, "title": f"t{i}",
                "published": f"2026-11-{int(rng.integers(10, 27)):02d}" if rng.random() < 0.7 else None}
               for i, t in enumerate(texts)]
    return make_docs(records, night, config), texts


@pytest.mark.parametrize("keep", ["first", "longest", "latest"])
def test_the_policy_on_arrays_decides_as_the_plain_policy(keep):
    config = DedupConfig(keep=keep)
    earlier, texts = night_of(3, 120, EARLIER, config)
    tonight, _ = night_of(4, 200, NIGHT, config, sources=texts)  # copies of earlier texts too
    history = {d.key: [o for o in earlier if o.exact == d.exact or jaccard(o.shingles, d.shingles) > 0.5]
               for d in tonight}
    history = {key: sorted(found, key=lambda d: d.key) for key, found in history.items() if found}
    result = deduplicate(tonight, config, history=lambda d: history.get(d.key, ()))
    ours = {d.key: (m.dup_of.key, m.similarity, m.method) for d, m in
            [*((next(x for x in tonight if x.key == k), m) for k, m in result.dropped.items()), *result.superseded]}
    expected = plain_policy(tonight, config, history)
    assert ours == expected
    assert sum(m[2] == "exact" for m in expected.values()) >= 20 and sum(m[2] == "minhash" for m in expected.values()) >= 10
    if keep != "first":
        assert result.superseded  # earlier articles lose to tonight's: the pool's other side


@pytest.mark.parametrize("keep, arena", [("first", ARENA_BYTES), ("longest", ARENA_BYTES), ("latest", ARENA_BYTES),
                                         ("first", 6_000), ("latest", 700)])
def test_a_night_read_from_its_sign_folders_decides_as_the_whole_night_held(tmp_path, monkeypatch, keep, arena):
    """Only the articles that share something are read whole, yet the decisions, the
    counts and the commit's articles are those of the policy on every article; also
    with an arena of shingles that must be emptied again and again (6,000 bytes: a few
    articles) or that cannot hold one article with its candidates (700 bytes)."""
    monkeypatch.setattr(policy, "ARENA_BYTES", arena)
    config = DedupConfig(keep=keep)
    docs, _ = night_of(5, 300, NIGHT, config)
    folders = []
    for shard, start in enumerate(range(0, len(docs), 70)):  # shards of 70, the last shorter
        part = docs[start : start + 70]
        for rank, doc in enumerate(part):
            doc.rank = rank  # a shard's own positions, as the sign stage writes them
        save_docs(tmp_path / f"shard-{shard:05d}.docs", part, config.num_perm)
        folders.append(tmp_path / f"shard-{shard:05d}.docs")
    for rank, doc in enumerate(docs):
        doc.rank = rank
    signs = NightSigns(folders, NIGHT, config, published=keep == "latest")
    result = decide(signs, lambda s: {})
    assert 0 < len(result.numbers) < len(docs)  # some articles share nothing
    decisions = list(result.decisions())
    expected = plain_policy(docs, config, {})
    assert sum(m[2] == "minhash" for m in expected.values()) >= 10 and sum(m[2] == "exact" for m in expected.values()) >= 10
    assert [d["key"] for d in decisions] == [d.key for d in docs]
    assert {d["key"]: (d["dup_of_key"], d["similarity"], d["method"]) for d in decisions
            if d["status"] == "duplicate"} == expected
    counts = result.stats(None, "files").counts
    assert (counts["kept"], counts["duplicates"]["exact"] + counts["duplicates"]["minhash"]) == (
        len(docs) - len(expected), len(expected))
    kept, superseded = kept_for_history(signs, decisions, keep)
    visited = sorted((d for d in docs if d.key not in expected), key=priority(keep))
    assert [d.key for d in kept] == [d.key for d in visited] and superseded == []
    assert all(np.array_equal(a.shingles, b.shingles) and np.array_equal(a.signature, b.signature)
               for a, b in zip(kept, visited))


def test_decisions_out_of_step_with_the_sign_stage_are_refused(tmp_path):
    config = DedupConfig()
    docs, _ = night_of(7, 20, NIGHT, config)
    save_docs(tmp_path / "shard-00000.docs", docs, config.num_perm)
    signs = NightSigns([tmp_path / "shard-00000.docs"], NIGHT, config)
    decisions = list(decide(signs, lambda s: {}).decisions())
    with pytest.raises(ValueError, match="decision 2 is for"):
        kept_for_history(signs, [decisions[0], *decisions[2:]], "first")
    with pytest.raises(ValueError, match="19 decisions for 20 articles"):
        kept_for_history(signs, decisions[:-1], "first")


def test_the_shingles_read_to_be_compared_are_held_within_the_budget(tmp_path):
    config = DedupConfig()
    docs, _ = night_of(9, 60, NIGHT, config)
    save_docs(tmp_path / "a.docs", docs, config.num_perm)
    cache = ShingleCache(budget=2_000)
    file = ShingleFile(Path(tmp_path / "a.docs"), cache)
    for number, doc in enumerate(docs):
        assert np.array_equal(file.read(number), doc.shingles)
        assert cache.size <= 2_000 or len(cache.arrays) == 1
    assert 0 < len(cache.arrays) < len(docs)


def test_the_arena_compares_as_jaccard_within_its_budget(tmp_path):
    """Read straight from the sign folder's file, or through ``read``: the most similar
    candidate is the one Jaccard says, ties to the lower number; a full arena is emptied
    and refilled, and a batch larger than it is compared a pair at a time."""
    config = DedupConfig()
    docs, _ = night_of(11, 80, NIGHT, config)
    save_docs(tmp_path / "a.docs", docs, config.num_perm)
    file = ShingleFile(tmp_path / "a.docs")
    lengths = np.array([len(d.shingles) for d in docs], dtype=np.int64)
    reads = []

    def read(member):
        reads.append(member)
        return docs[member].shingles

    descriptors = np.where(np.arange(len(docs)) % 2 == 0, file.handle.fileno(), -1)  # half from the file
    places = file.start + 8 * file.offsets[:-1]
    budget = 8 * int(lengths[:12].sum())
    arena = ShingleArena(read, lengths, budget, descriptors, places)
    shingled = [m for m in range(len(docs)) if lengths[m]]
    for member in shingled[8:]:
        others = np.array([o for o in shingled if o < member][-6:], dtype=np.int64)
        scores = [(jaccard(docs[member].shingles, docs[o].shingles), -o) for o in others.tolist()]
        best = max(scores)
        expected = (-best[1], best[0]) if best[0] >= 0.3 else (-1, -1.0)
        assert arena.most_similar(member, others, 0.3) == expected
        assert arena.top * 8 <= budget
    assert reads and all(m % 2 == 1 for m in reads)  # the others came straight from the file
    assert len(reads) > len({m for m in shingled[2:] if m % 2 == 1})  # emptied and read again
    small = ShingleArena(read, lengths, 8 * int(lengths[shingled[0]]))
    others = np.array(shingled[1:4], dtype=np.int64)
    member = shingled[5]
    scores = max((jaccard(docs[member].shingles, docs[o].shingles), -o) for o in others.tolist())
    assert small.most_similar(member, others, 0.0) == (-scores[1], scores[0]) and small.top == 0  # a pair at a time
