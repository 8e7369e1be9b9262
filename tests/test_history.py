"""Cross-night dedup: accuracy on BBC, two nights, reruns, keep policies, the stores (night
folders, a SQLite history converted, Redis) giving the same results."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from datasketch import MinHashLSH

from bench.evaluation import load_truth, score_pairs
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Match
from pipeline.dedup.fingerprint import band_fingerprints, make_docs
from pipeline.dedup.history import History, Superseded
from pipeline.io.arrays import shingle_array
from tests.conftest import ROOT, Night

NIGHT_1, NIGHT_2 = "2026-11-26", "2026-11-27"


def test_band_fingerprints_find_what_datasketchs_lsh_finds():
    """The LSH index of band fingerprints (in-night, night folders, Redis) proposes exactly
    the candidates datasketch's own ``MinHashLSH`` returns for the same signatures."""
    from datasketch import LeanMinHash

    from bench.synthetic import TextGenerator
    from pipeline.dedup.policy import BandGroups

    config = DedupConfig()
    generator = TextGenerator(seed=8)
    texts = [generator.article(words=60)[1] for _ in range(60)]
    texts += [generator.near_copy(t, changes=k % 9) for k, t in enumerate(texts[:40])]
    docs = make_docs([{"key": f"k{i}", "id": f"k{i}", "text": t} for i, t in enumerate(texts)], "n", config)
    lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
    prints = band_fingerprints(np.stack([d.signature for d in docs]), config)
    ours = BandGroups(lambda band: prints[:, band], config.bands, np.array([len(d.shingles) for d in docs]))
    for doc in docs:
        lsh.insert(doc.key, LeanMinHash(seed=config.seed, hashvalues=doc.signature, scheme=config.scheme))
    theirs = {doc.key: set(lsh.query(LeanMinHash(seed=config.seed, hashvalues=doc.signature, scheme=config.scheme)))
              for doc in docs}
    assert {doc.key: {docs[j].key for j in ours.sharing(i)} for i, doc in enumerate(docs)} == theirs
    assert sum(len(found) > 1 for found in theirs.values()) >= 30  # the near copies are found


def test_history_refuses_other_settings(tmp_path):
    History(tmp_path, DedupConfig()).close()
    with pytest.raises(RuntimeError, match="was built with dedup settings"):
        History(tmp_path, DedupConfig(shingle_size=3))


# --- the embedded store: lookups, conversion of a SQLite history, interrupted commits -------

VERSIONS = {
    "ferry": "The harbour authority said on Monday that the new ferry terminal would open in the spring, "
             "after two years of delays caused by a dispute over the size of the car park.",
    "bridge": "Engineers closed the old railway bridge over the river on Tuesday after inspectors found "
              "cracks in two of its iron girders, and trains will run on a single track until March.",
    "school": "Parents gathered outside the village school on Wednesday evening to protest against plans "
              "to merge it with a larger school in the neighbouring town from next September.",
}


def story_docs(night: str, config: DedupConfig, suffix: str = "") -> list:
    records = [{"key": f"{night}/{name}", "id": f"{name}-{night}", "text": text + suffix, "title": name}
               for name, text in sorted(VERSIONS.items())]
    return make_docs(records, night, config)


def looked_up(history, docs, night, since=None) -> dict[str, list[str]]:
    return {key: [d.key for d in found] for key, found in history.candidates(docs, night, since).items()}


def test_file_history_finds_earlier_nights_within_the_window_only(tmp_path):
    config = DedupConfig()
    history = History(tmp_path, config)
    night_1 = story_docs(NIGHT_1, config)
    history.commit(NIGHT_1, night_1[:2], [])  # "bridge" and "ferry" kept on night 1
    tonight = story_docs(NIGHT_2, config, suffix=" A spokesman later confirmed it.")
    assert looked_up(history, tonight, NIGHT_2) == {
        f"{NIGHT_2}/bridge": [f"{NIGHT_1}/bridge"], f"{NIGHT_2}/ferry": [f"{NIGHT_1}/ferry"],
    }
    (found,) = history.candidates(tonight[:1], NIGHT_2, None)[f"{NIGHT_2}/bridge"]
    (original,) = [d for d in night_1 if d.key == found.key]
    assert (found.id, found.title, found.n_words, found.exact) == (original.id, "bridge", original.n_words,
                                                                 original.exact)
    assert np.array_equal(shingle_array(found.shingles), original.shingles)  # read when compared
    assert np.array_equal(found.signature, original.signature)
    assert looked_up(history, tonight, NIGHT_2, since=NIGHT_2) == {}  # outside the window
    assert looked_up(history, night_1, NIGHT_1) == {}  # a night never finds itself
    history.close()


def test_file_history_commit_replaces_the_night_and_superseded_articles_drop_out(tmp_path):
    config = DedupConfig()
    history = History(tmp_path, config)
    night_1 = story_docs(NIGHT_1, config)
    history.commit(NIGHT_1, night_1, [])
    history.commit(NIGHT_1, night_1[1:], [])  # a rerun of night 1 kept fewer articles
    assert sorted(looked_up(history, story_docs("2026-11-28", config), "2026-11-28")) == [
        "2026-11-28/ferry", "2026-11-28/school",
    ]
    night_2 = story_docs(NIGHT_2, config, suffix=" Updated.")
    history.commit(NIGHT_2, night_2[1:2], [Superseded.of(night_1[1], Match(night_2[1], 0.9, "minhash"))])
    # Night 3 sees night 2's version of "ferry" only; night 2 itself (a rerun) still sees night 1's.
    later = looked_up(history, story_docs("2026-11-28", config, suffix=" Updated."), "2026-11-28")
    assert later["2026-11-28/ferry"] == [f"{NIGHT_2}/ferry"]
    assert looked_up(history, night_2, NIGHT_2)[f"{NIGHT_2}/ferry"] == [f"{NIGHT_1}/ferry"]
    assert sorted(p.name for p in (tmp_path / "history").iterdir()) == [
        ".lock", NIGHT_1, NIGHT_2, "MANIFEST.json", "SETTINGS"]
    history.close()


def test_file_history_recovers_from_a_commit_killed_between_its_renames(tmp_path):
    config = DedupConfig()
    history = History(tmp_path, config)
    history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
    history.close()
    folder = tmp_path / "history"
    (folder / NIGHT_1).rename(folder / f".{NIGHT_1}.old-999")  # the old version moved away ...
    (folder / f".{NIGHT_2}.tmp-999").mkdir()  # ... and a half-written night
    history = History(tmp_path, config)
    assert sorted(p.name for p in folder.iterdir()) == [".lock", NIGHT_1, "MANIFEST.json", "SETTINGS"]
    assert len(looked_up(history, story_docs(NIGHT_2, config), NIGHT_2)) == 3
    history.close()


# A process that commits night 1 (a first version with FIRST=yes, then another), killed
# (os._exit, as kill -9) at WHERE: "index", once the Redis index holds the new version;
# "manifest", once the new folder is in place, before the manifest lists it.
KILLED_COMMIT = """
import os, sys
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.history import History, redisindex, store
from tests.test_history import NIGHT_1, story_docs

state, url, where, first = sys.argv[1:5]
config = DedupConfig()
history = History(state, config, url)
if first == "yes":
    history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
replace = redisindex.RedisIndex.replace_night
if where == "index":
    redisindex.RedisIndex.replace_night = lambda self, *args: (replace(self, *args), os._exit(137))
else:
    store.History.write_manifest = lambda self, nights: os._exit(137)
history.commit(NIGHT_1, story_docs(NIGHT_1, config, suffix=" Updated."), [])
"""


@pytest.mark.parametrize("with_redis, where, first", [
    (False, "manifest", "no"), (False, "manifest", "yes"),
    (True, "index", "no"), (True, "index", "yes"), (True, "manifest", "no"), (True, "manifest", "yes"),
])
def test_a_commit_killed_between_its_intent_and_its_manifest_leaves_the_night_as_the_manifest_has_it(
        tmp_path, request, with_redis, where, first):
    from pipeline.dedup.history.checking import all_problems

    url = request.getfixturevalue("redis_url") if with_redis else ""
    killed = subprocess.run([sys.executable, "-c", KILLED_COMMIT, str(tmp_path), url, where, first],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert killed.returncode == 137, killed.stderr
    folder = tmp_path / "history"
    assert [p.name for p in folder.glob(".*.commit-*")]  # the dead run's intent, before the history is opened
    config = DedupConfig()
    history = History(tmp_path, config, url)
    try:
        assert all_problems(history) == []  # nothing damaged, no night folder the manifest does not list
        if first == "yes":  # the first version, whole: its folder, the manifest's entry, the index's
            assert list(history.nights()) == [NIGHT_1]
            assert sorted(p.name for p in folder.iterdir() if p.name != ".checked.json") == [
                ".lock", NIGHT_1, "MANIFEST.json", "SETTINGS"]
            found = history.candidates(story_docs(NIGHT_2, config), NIGHT_2, None)
            assert sorted(d.id for docs in found.values() for d in docs) == [
                f"{name}-{NIGHT_1}" for name in sorted(VERSIONS)]
            first_version = {d.key: d.n_words for d in story_docs(NIGHT_1, config)}  # " Updated." adds a word
            assert {d.key: d.n_words for docs in found.values() for d in docs} == first_version
        else:  # never committed: nothing of it left, in the folders or the index
            assert history.nights() == {}
            assert sorted(p.name for p in folder.iterdir() if p.name != ".checked.json") == [
                ".lock", "SETTINGS"] + (["MANIFEST.json"] if (folder / "MANIFEST.json").exists() else [])
            if with_redis:
                assert history.index.nights() == {}
            assert history.candidates(story_docs(NIGHT_2, config), NIGHT_2, None) == {}
        history.commit(NIGHT_1, story_docs(NIGHT_1, config, suffix=" Updated."), [])  # done again
        assert all_problems(history) == []
    finally:
        history.close()


def test_a_commit_that_fails_once_the_redis_index_took_its_entries_gives_them_back(tmp_path, redis_url, monkeypatch):
    from pipeline.dedup.history.checking import all_problems

    config = DedupConfig()
    history = History(tmp_path, config, redis_url)
    history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
    first = history.index.nights()
    rename = Path.rename

    def full_disk(self, target):  # the new folder cannot be moved into place
        if ".tmp-" in self.name:
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", full_disk)
    with pytest.raises(OSError):
        history.commit(NIGHT_1, story_docs(NIGHT_1, config, suffix=" Updated."), [])
    monkeypatch.undo()
    assert history.index.nights() == first
    assert all_problems(history) == []
    assert sorted(p.name for p in (tmp_path / "history").iterdir() if p.name != ".checked.json") == [
        ".lock", NIGHT_1, "MANIFEST.json", "SETTINGS"]
    history.close()


def test_a_dead_commits_intent_over_a_damaged_folder_still_lets_the_history_open(tmp_path, redis_url):
    # The index cannot be given the manifest's version back from a damaged folder: the
    # night leaves the index, the history opens (history rebuild needs it), the checks name the file.
    import socket

    from pipeline.dedup.history.checking import all_problems

    config = DedupConfig()
    history = History(tmp_path, config, redis_url)
    history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
    history.close()
    folder = tmp_path / "history"
    (folder / NIGHT_1 / "bands.npy").write_bytes(b"cut")
    (folder / f".{NIGHT_1}.commit-{socket.gethostname()}-999999999").write_text("another version\n")
    history = History(tmp_path, config, redis_url)
    try:
        assert history.index.nights() == {}
        assert not list(folder.glob(".*.commit-*"))
        problems = [str(p) for p in all_problems(history)]
        assert any("bands.npy: damaged" in p for p in problems), problems
    finally:
        history.close()


# --- BBC: one night, two nights ------------------------------------------------------------


def bbc_records(corpora: Path) -> list[dict]:
    with gzip.open(corpora / "bbc" / "articles.jsonl.gz") as handle:
        return [orjson.loads(line) for line in handle]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def reported(*nights: tuple[Night, str]) -> list[tuple[str, str]]:
    pairs = []
    for night, date in nights:
        night.date = date
        pairs += [(d["id"], d["dup_of"]) for d in night.records("duplicates.jsonl")]
    return pairs


def test_bbc_one_night_recall_and_precision(night, corpora):
    night.copy(corpora / "bbc" / "articles.jsonl.gz")
    assert night.run()
    truth = load_truth(corpora / "bbc" / "dup_pairs.jsonl")
    pairs = reported((night, night.date))
    score = score_pairs(pairs, truth, recall_at=0.85, precision_at=0.7)
    assert score.truth_pairs == 154 and score.recall >= 0.99 and score.precision >= 0.99
    identical = {p for p, r in truth.items() if r["bytes_equal"]}
    assert len(identical) == 98 and identical <= {frozenset(p) for p in pairs}


@pytest.fixture
def two_nights(tmp_path, corpora):
    """The BBC corpus split over two nights: even records the first night, odd the second."""
    records = bbc_records(corpora)
    night = Night(tmp_path, NIGHT_1)
    write_jsonl(night.raw_dir / NIGHT_1 / "bbc.jsonl", records[0::2])
    write_jsonl(night.raw_dir / NIGHT_2 / "bbc.jsonl", records[1::2])
    return night, records


def run_two_nights(night: Night, **settings) -> None:
    for date in (NIGHT_1, NIGHT_2):
        night.date = date
        assert night.run(**settings)


def test_bbc_two_nights_cross_night_pairs(two_nights, corpora):
    night, records = two_nights
    run_two_nights(night)
    first_night = {r["id"] for r in records[0::2]}
    truth = load_truth(corpora / "bbc" / "dup_pairs.jsonl")
    cross = {p for p in truth if len(p & first_night) == 1}
    second = [(night, NIGHT_2)]
    night.date = NIGHT_2
    cross_reported = [
        (d["id"], d["dup_of"]) for d in night.records("duplicates.jsonl") if d["dup_of_night"] == NIGHT_1
    ]
    score = score_pairs(cross_reported, truth, recall_at=0.85, precision_at=0.7, within=cross)
    assert score.truth_pairs >= 70 and score.recall >= 0.99 and score.precision >= 0.99
    assert all(dup_of in first_night for _, dup_of in cross_reported)
    everything = score_pairs(reported((night, NIGHT_1), *second), truth, recall_at=0.85, precision_at=0.7)
    assert everything.recall >= 0.99 and everything.precision >= 0.99
    assert night.report()["dedup"]["of_earlier_nights"] == len(cross_reported)


def test_rerun_of_second_night_is_byte_identical(two_nights):
    night, _ = two_nights
    run_two_nights(night)
    night.date = NIGHT_2
    first = night.output_bytes()
    shutil.rmtree(night.out)
    assert night.run()
    assert night.output_bytes() == first
    assert first["duplicates.jsonl"]


def test_window_limits_the_nights_compared(two_nights):
    night, _ = two_nights
    night.date = NIGHT_1
    assert night.run()
    night.date = NIGHT_2
    assert night.run(history_days=0)
    with_history = night.report()["dedup"]["of_earlier_nights"]
    shutil.rmtree(night.out)
    assert night.run(history_days=1)  # the night before is inside a 1-day window
    assert night.report()["dedup"]["of_earlier_nights"] == with_history > 0
    shutil.rmtree(night.out)
    # Another history, of an older night only (night 1's outputs went with the old history).
    night.state_dir = night.root / "state-old-only"
    night.date = NIGHT_1
    shutil.rmtree(night.out)
    shutil.move(str(night.raw_dir / NIGHT_1), str(night.raw_dir / "2026-11-20"))
    night.date = "2026-11-20"
    assert night.run()
    night.date = NIGHT_2
    assert night.run(history_days=3)  # 2026-11-20 is 7 days back: outside the window
    assert night.report()["dedup"]["of_earlier_nights"] == 0


# --- keep policies across nights ------------------------------------------------------------

STORY = (
    "The harbour authority said on Monday that the new ferry terminal would open in the spring, "
    "after two years of delays caused by a dispute over the size of the car park and the cost of "
    "moving the old fish market to the southern quay of the town, officials said."
)
UPDATE = STORY + " A spokesman later confirmed the date."


def story_nights(root: Path) -> Night:
    night = Night(root, NIGHT_1)
    write_jsonl(night.raw_dir / NIGHT_1 / "feed.jsonl", [{"id": "v1", "title": "Terminal", "text": STORY}])
    write_jsonl(night.raw_dir / NIGHT_2 / "feed.jsonl", [{"id": "v2", "title": "Terminal", "text": UPDATE}])
    return night


def test_keep_first_drops_tonights_copy_of_an_earlier_article(tmp_path):
    night = story_nights(tmp_path)
    run_two_nights(night, keep="first")
    assert [a["id"] for a in night.records("articles.jsonl")] == []
    (dup,) = night.records("duplicates.jsonl")
    assert (dup["id"], dup["dup_of"], dup["dup_of_night"], dup["night"], dup["superseded"]) == (
        "v2", "v1", NIGHT_1, NIGHT_2, False
    )


def test_keep_latest_keeps_the_update_and_records_the_older_version(tmp_path):
    night = story_nights(tmp_path)
    run_two_nights(night, keep="latest")
    assert [a["id"] for a in night.records("articles.jsonl")] == ["v2"]
    (dup,) = night.records("duplicates.jsonl")
    assert (dup["id"], dup["dup_of"], dup["dup_of_night"], dup["night"], dup["superseded"]) == (
        "v1", "v2", NIGHT_2, NIGHT_1, True
    )
    assert dup["method"] == "minhash" and dup["similarity"] >= 0.8


# --- Redis: the same results as the embedded index -------------------------------------------


def test_redis_index_gives_the_same_duplicates_as_the_embedded_one(tmp_path, corpora, redis_url):
    records = bbc_records(corpora)
    outputs = {}
    for backend, settings in (("files", {}), ("redis", {"index_url": redis_url})):
        night = Night(tmp_path / backend, NIGHT_1)
        write_jsonl(night.raw_dir / NIGHT_1 / "bbc.jsonl", records[0::2])
        write_jsonl(night.raw_dir / NIGHT_2 / "bbc.jsonl", records[1::2])
        run_two_nights(night, **settings)
        outputs[backend] = {d: (night.out_dir / d / "duplicates.jsonl").read_bytes() for d in (NIGHT_1, NIGHT_2)}
        if backend == "redis":  # a rerun against Redis replaces the night's entries too
            shutil.rmtree(night.out)
            assert night.run(**settings)
            assert (night.out / "duplicates.jsonl").read_bytes() == outputs["redis"][NIGHT_2]
    assert outputs["redis"] == outputs["files"]
    assert outputs["files"][NIGHT_2].count(NIGHT_1.encode()) > 50


def test_file_history_commit_that_cannot_reach_the_disk_fails_naming_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    """The commit's fsyncs run beside its writes; a failed one still fails the commit
    (after the others finished), naming the file, and the half-written folder is removed."""
    import pipeline.dedup.history.files as filehistory

    config = DedupConfig()
    history = History(tmp_path, config)
    real_fsync = os.fsync

    def failing(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("bands.npy"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(filehistory.os, "fsync", failing)
    with pytest.raises(OSError, match=r"cannot write .*/history/\.2026-11-26\.tmp-[^/]+/bands\.npy: No space left"):
        history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "history").iterdir()) == [".lock", "SETTINGS"]
    history.commit(NIGHT_1, story_docs(NIGHT_1, config), [])
    assert looked_up(history, story_docs(NIGHT_2, config), NIGHT_2)
    history.close()
