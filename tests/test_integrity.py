"""Cross-night state you can trust: nights in order, the history complete and intact (or the
night stops), repairs that give back the sequential result, one writer's result whatever
runs at once, and reading only what belongs to the night. Driven as an operator drives
it: the `luigi` and `python -m pipeline` commands, real files, real Redis."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from bench.synthetic import TextGenerator
from pipeline.io.jsonl import run_tag
from tests.conftest import ROOT

NIGHTS = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
OUTPUTS = ("articles.jsonl", "duplicates.jsonl", "rejected.jsonl", "removed.jsonl")


def write_nights(raw: Path, nights=NIGHTS) -> None:
    """Four nights of a feed: each repeats 20 of the night before's stories, updates 5 of
    them (near duplicates) and brings 30 new ones."""
    generator = TextGenerator(seed=21)
    stories = [generator.article(words=160) for _ in range(30 * len(nights) + 30)]
    for k, night in enumerate(nights):
        records = []
        for i in range(30 * k, 30 * k + 30):  # new tonight
            title, text = stories[i + 30]
            records.append({"id": f"n{i}", "title": title, "text": text})
        if k:
            for i in range(30 * (k - 1), 30 * (k - 1) + 20):  # again from the night before
                title, text = stories[i + 30]
                text = generator.near_copy(text) if i % 4 == 0 else text
                records.append({"id": f"again-{night}-{i}", "title": title, "text": text})
        folder = raw / night
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "feed.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def flags(root: Path, *more: str) -> list[str]:
    return ["--local-scheduler", "--pipeline-raw-dir", str(root / "raw"), "--pipeline-out-dir", str(root / "out"),
            "--pipeline-state-dir", str(root / "state"), *more]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def night_cli(root: Path, night: str, *more: str, popen: bool = False):
    command = [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus", "--date", night,
               *flags(root, *more)]
    if popen:
        return subprocess.Popen(command, cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, cwd=root, env=env(), capture_output=True, text=True)


def pipeline_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args, *flags(root)], cwd=root, env=env(),
                          capture_output=True, text=True)


def outputs(root: Path, nights=NIGHTS) -> dict[str, bytes]:
    return {f"{night}/{name}": (root / "out" / night / name).read_bytes() for night in nights for name in OUTPUTS}


def digests(root: Path) -> dict[str, str]:
    manifest = orjson.loads((root / "state" / "history" / "MANIFEST.json").read_bytes())
    return {night: entry["digest"] for night, entry in manifest["nights"].items()}


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    """The reference: the four nights run one by one, in order."""
    root = tmp_path_factory.mktemp("sequence")
    write_nights(root / "raw")
    for night in NIGHTS:
        result = night_cli(root, night)
        assert result.returncode == 0, result.stderr[-3000:]
    kept = [len((root / "out" / n / "articles.jsonl").read_bytes().splitlines()) for n in NIGHTS]
    assert kept[0] == 30 and all(k < 50 for k in kept[1:])  # the repeats are duplicates
    return root


def fresh(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    write_nights(root / "raw")
    return root


# --- order by construction ---------------------------------------------------------------------


def test_a_backfill_gives_the_nights_of_running_them_one_by_one(sequence, tmp_path):
    root = fresh(tmp_path, "backfill")
    result = pipeline_cli(root, "backfill", "--from", NIGHTS[0], "--to", NIGHTS[-1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0 done, 4 to run, 0 without a raw folder" in result.stdout
    assert outputs(root) == outputs(sequence)
    assert digests(root) == digests(sequence)


def test_luigis_own_range_newest_first_gives_the_same_nights(sequence, tmp_path):
    """RangeDaily schedules the newest night first; each night's dedup waits for the
    commits of the nights before it, so the nights still come out in order."""
    root = fresh(tmp_path, "range")
    command = [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "RangeDaily", "--of", "CleanCorpus",
               "--start", NIGHTS[0], "--stop", "2026-11-28", "--reverse", *flags(root)]
    result = subprocess.run(command, cwd=root, env=env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert outputs(root) == outputs(sequence)


def test_a_night_run_alone_first_runs_the_earlier_nights_history(sequence, tmp_path):
    root = fresh(tmp_path, "alone")
    assert night_cli(root, NIGHTS[-1]).returncode == 0
    assert outputs(root, NIGHTS[-1:]) == outputs(sequence, NIGHTS[-1:])
    assert digests(root) == digests(sequence)
    # The earlier nights' commits ran (their outputs wait for their own run).
    assert not (root / "out" / NIGHTS[0] / "articles.jsonl").exists()


def test_a_missing_raw_night_is_a_recorded_gap(tmp_path):
    root = fresh(tmp_path, "gap")
    shutil.rmtree(root / "raw" / NIGHTS[1])
    for night in (NIGHTS[0], NIGHTS[2]):
        assert night_cli(root, night).returncode == 0
    manifest = orjson.loads((root / "state" / "history" / "MANIFEST.json").read_bytes())
    assert manifest["nights"][NIGHTS[2]]["gaps"] == [NIGHTS[1]]
    assert pipeline_cli(root, "history", "verify").returncode == 0
    write_nights(root / "raw")  # the scraper's night arrives late: the night after is stale
    assert night_cli(root, NIGHTS[1]).returncode == 0
    verify = pipeline_cli(root, "history", "verify")
    assert verify.returncode == 0  # stale is a warning, not damage
    assert f"warning: night {NIGHTS[2]} is stale: {NIGHTS[1]} had no raw data then and is committed now" in verify.stdout


# --- one writer's result whatever runs at once ------------------------------------------------------


def test_two_nights_started_together_end_with_the_sequential_result(sequence, tmp_path):
    root = fresh(tmp_path, "together")
    third, fourth = night_cli(root, NIGHTS[2], popen=True), night_cli(root, NIGHTS[3], popen=True)
    for process in (third, fourth):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
    assert outputs(root, NIGHTS[2:]) == outputs(sequence, NIGHTS[2:])
    assert digests(root) == digests(sequence)
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]


def test_a_night_keeps_the_settings_it_started_with(sequence, tmp_path):
    root = tmp_path / "settings"
    shutil.copytree(sequence, root)
    (root / "out" / NIGHTS[-1] / "articles.jsonl").unlink()  # the night is not finished
    other = night_cli(root, NIGHTS[-1], "--pipeline-min-words", "30")
    assert other.returncode == 13
    assert (f"newsclean: error: night {NIGHTS[-1]} was started with other settings (min_words '20' -> '30'): "
            f"finish it with those, or start it over with these: python -m pipeline rerun {NIGHTS[-1]}") in other.stderr
    assert night_cli(root, NIGHTS[-1]).returncode == 0
    assert outputs(root) == outputs(sequence)


def test_of_two_runs_claiming_a_night_at_once_exactly_one_wins(tmp_path):
    from pipeline.io.jsonl import claim_file

    won, lost = [], []
    barrier = threading.Barrier(8)

    def claim(k: int) -> None:
        barrier.wait()
        try:
            claim_file(tmp_path / "run.json", b"run %d\n" % k)
            won.append(k)
        except FileExistsError:
            lost.append(k)

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert (tmp_path / "run.json").read_bytes() == b"run %d\n" % won[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


# --- a damaged history stops the night; verify names it; rebuild repairs it ----------------------


def _zero_shingles(state: Path) -> Path:
    path = state / "history" / NIGHTS[1] / "shingles.npy"
    data = bytearray(path.read_bytes())
    data[128:] = bytes(len(data) - 128)  # the arrays zeroed, the header kept
    path.write_bytes(bytes(data))
    return path


def _truncate(name: str):
    def damage(state: Path) -> Path:
        path = state / "history" / NIGHTS[1] / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    return damage


def _garble_docs(state: Path) -> Path:
    path = state / "history" / NIGHTS[1] / "docs.jsonl"
    path.write_bytes(path.read_bytes().replace(b'["', b"[x", 3))
    return path


def _delete_night(state: Path) -> Path:
    path = state / "history" / NIGHTS[1]
    shutil.rmtree(path)
    return path


def _garble_manifest(state: Path) -> Path:
    path = state / "history" / "MANIFEST.json"
    path.write_bytes(path.read_bytes()[:-40])
    return path


def _multiply_site_lines(state: Path) -> Path:
    path = state / "site_lines" / f"{NIGHTS[1]}.json"
    counts = orjson.loads(path.read_bytes())
    for site in counts.values():
        site["pages"] *= 1000
        site["lines"] = {key: count * 1000 for key, count in site["lines"].items()}
    path.write_bytes(orjson.dumps(counts))
    return path


DAMAGE = {
    "a night's folder deleted": _delete_night,
    "its shingle arrays zeroed": _zero_shingles,
    "bands.npy truncated": _truncate("bands.npy"),
    "shingles.npy truncated": _truncate("shingles.npy"),
    "docs.jsonl garbled": _garble_docs,
    "the manifest garbled": _garble_manifest,
    "site-line counts multiplied by 1000": _multiply_site_lines,
}


@pytest.fixture(scope="module")
def three_nights(sequence, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("three")
    write_nights(root / "raw")
    for night in NIGHTS[:3]:
        assert night_cli(root, night).returncode == 0
    return root


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_history_stops_the_night_and_rebuild_gives_back_the_sequence(damage, three_nights, sequence,
                                                                             tmp_path):
    root = tmp_path / "damaged"
    shutil.copytree(three_nights, root)
    path = DAMAGE[damage](root / "state")
    stopped = night_cli(root, NIGHTS[3])
    assert stopped.returncode == 11, stopped.stderr[-3000:]
    (line,) = [line for line in stopped.stderr.splitlines() if line.startswith("newsclean: error:")]
    assert line.startswith(f"newsclean: error: night {NIGHTS[3]}: the history is not sound: ") and str(path) in line
    assert not (root / "out" / NIGHTS[3] / "stages" / "1-read").exists()  # nothing ran
    verify = pipeline_cli(root, "history", "verify")
    assert verify.returncode == 11 and str(path) in verify.stdout
    rebuild = pipeline_cli(root, "history", "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr[-2000:]
    assert pipeline_cli(root, "history", "verify").stdout.endswith(": sound\n")
    assert night_cli(root, NIGHTS[3]).returncode == 0
    assert outputs(root) == outputs(sequence)
    assert digests(root) == digests(sequence)


def test_rebuild_without_stage_files_makes_the_same_history_from_articles_jsonl(three_nights, tmp_path):
    root = tmp_path / "no-stages"
    shutil.copytree(three_nights, root)
    before = {p.name: p.read_bytes() for p in (root / "state" / "history" / NIGHTS[1]).iterdir()}
    shutil.rmtree(root / "state" / "history" / NIGHTS[1])
    shutil.rmtree(root / "out" / NIGHTS[1] / "stages" / "4-sign")
    rebuild = pipeline_cli(root, "history", "rebuild")
    assert rebuild.returncode == 0 and f"{NIGHTS[1]}/articles.jsonl" in rebuild.stdout
    assert {p.name: p.read_bytes() for p in (root / "state" / "history" / NIGHTS[1]).iterdir()} == before


def test_a_history_of_other_dedup_settings_stops_the_night_and_rebuild_makes_it_again(three_nights, sequence,
                                                                                    tmp_path):
    """A history written under another word rule (an earlier version's) or other dedup
    settings is refused (exit 9) and made again by rebuild, every night fingerprinted
    from its articles.jsonl, then the next night runs as in the sequence."""
    root = tmp_path / "old-settings"
    shutil.copytree(three_nights, root)
    settings = root / "state" / "history" / "SETTINGS"
    settings.write_text("shingles5-perm128-seed1-affine32-b21r6-files-1\n")  # no word rule: version 1
    stopped = night_cli(root, NIGHTS[3])
    assert stopped.returncode == 9
    assert "was built with dedup settings shingles5-perm128-seed1-affine32-b21r6-files-1, not " in stopped.stderr
    rebuild = pipeline_cli(root, "history", "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr[-2000:]
    assert "dedup settings changed" in rebuild.stdout and f"night {NIGHTS[0]}: folder made again from" in rebuild.stdout
    assert settings.read_text().endswith("-words2-files-1\n")
    verify = pipeline_cli(root, "history", "verify")
    assert verify.stdout.endswith(": sound\n") and "stale" not in verify.stdout
    assert night_cli(root, NIGHTS[3]).returncode == 0
    assert outputs(root) == outputs(sequence)
    assert digests(root) == digests(sequence)


# --- Redis: the same checks, and a commit that is all or nothing ---------------------------------


def test_an_emptied_redis_index_stops_the_night_and_rebuild_refills_it(redis_url, sequence, tmp_path):
    import redis

    root = fresh(tmp_path, "redis")
    with_redis = ["--pipeline-index-url", redis_url]
    for night in NIGHTS[:3]:
        assert night_cli(root, night, *with_redis).returncode == 0
    redis.Redis.from_url(redis_url).flushdb()  # a restart without persistence
    stopped = night_cli(root, NIGHTS[3], *with_redis)
    assert stopped.returncode == 11
    assert f"the Redis index {redis_url} lacks it (night {NIGHTS[0]}" in stopped.stderr
    command = [sys.executable, "-m", "pipeline", "history", "rebuild", *flags(root), *with_redis]
    rebuild = subprocess.run(command, cwd=root, env=env(), capture_output=True, text=True)
    assert rebuild.returncode == 0 and "Redis index" in rebuild.stdout, rebuild.stderr[-2000:]
    assert night_cli(root, NIGHTS[3], *with_redis).returncode == 0
    assert outputs(root, NIGHTS[3:]) == outputs(sequence, NIGHTS[3:])


def _index_holds_exactly_its_nights(history) -> None:
    """Every night the index lists has all its band entries, and no other night has any."""
    from pipeline.dedup.history.files import NightFolder
    from pipeline.dedup.history.redisindex import hex_prints

    index = history.index
    listed = index.nights()
    refs: dict[str, set[tuple[str, int]]] = {}
    for key in index.redis.scan_iter(match=f"{index.prefix}:band:*", count=10000):
        for ref in index.redis.smembers(key):
            night, _, article = ref.decode().partition("|")
            refs.setdefault(night, set()).add((key.decode().rsplit(":", 1)[1], int(article)))
    assert set(refs) <= set(listed)
    for night in listed:
        folder = NightFolder(history.folder / night)
        expected = set(zip(hex_prints(folder.array("bands.npy")), folder.array("bands.docs.npy").tolist()))
        assert refs.get(night, set()) == expected


# ``python -m pipeline``, in a process that dies (os._exit, as kill -9) right after the
# night's site-line counts are written to the state folder: before its history commit.
DIES_AFTER_THE_SITE_LINE_COUNTS = """
import os, sys
from pipeline import stages
from pipeline.__main__ import main

counted = stages.count_site_lines
stages.count_site_lines = lambda *args, **kwargs: (counted(*args, **kwargs), os._exit(137))
sys.exit(main(sys.argv[1:]))
"""


def test_a_rerun_killed_once_its_site_line_counts_changed_lets_the_next_night_run(tmp_path):
    # The counts of a committed night replaced before its commit: the next night's check
    # took them for damaged counts (exit 11). The rerun is finished by the next night.
    nights = NIGHTS[:2]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    for root in (reference, killed):
        write_nights(root / "raw", nights)
    first_feed = killed / "raw" / nights[0] / "feed.jsonl"
    assert night_cli(killed, nights[0]).returncode == 0
    for root in (reference, killed):  # night 1 loses a story, and its file's counts change
        feed = root / "raw" / nights[0] / "feed.jsonl"
        feed.write_bytes(b"".join(feed.read_bytes().splitlines(keepends=True)[:-1]))
    assert first_feed.read_bytes() == (reference / "raw" / nights[0] / "feed.jsonl").read_bytes()
    cut = subprocess.run([sys.executable, "-c", DIES_AFTER_THE_SITE_LINE_COUNTS, "rerun", nights[0], *flags(killed)],
                         cwd=killed, env=env(), capture_output=True, text=True)
    assert cut.returncode == 137, cut.stderr[-2000:]
    counts = killed / "state" / "site_lines"
    assert (counts / f".{nights[0]}.json.committed").exists()
    verified = pipeline_cli(killed, "history", "verify")  # a rerun waiting for its commit: a warning
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "a rerun of night 2026-11-24 that has not committed yet" in verified.stdout + verified.stderr
    for night in nights:  # night 1 run again (finishing its rerun), then night 2
        assert night_cli(killed, night).returncode == 0
        assert night_cli(reference, night).returncode == 0
    assert outputs(killed, nights) == outputs(reference, nights)
    assert not list(counts.glob(".*"))
    verified = pipeline_cli(killed, "history", "verify")
    assert verified.returncode == 0 and "problem" not in verified.stdout + verified.stderr, verified.stdout


def test_a_redis_commit_cut_short_leaves_the_night_out_whole(redis_url, tmp_path, monkeypatch):
    import redis

    from pipeline.dedup.config import DedupConfig
    from pipeline.dedup.fingerprint import make_docs
    from pipeline.dedup.history import History

    redis.Redis.from_url(redis_url).flushdb()
    config = DedupConfig()
    generator = TextGenerator(seed=3)
    docs = {night: make_docs([{"key": f"{night}/{i}", "id": f"{night}-{i}", "text": generator.article()[1]}
                              for i in range(40)], night, config) for night in NIGHTS[:2]}
    history = History(tmp_path, config, redis_url)
    history.commit(NIGHTS[0], docs[NIGHTS[0]], [])

    def connection_lost(self, *args, **kwargs):
        raise redis.ConnectionError("connection lost before EXEC")

    monkeypatch.setattr(redis.client.Pipeline, "execute", connection_lost)
    with pytest.raises(redis.ConnectionError):
        history.commit(NIGHTS[1], docs[NIGHTS[1]], [])
    monkeypatch.undo()
    assert list(history.index.nights()) == [NIGHTS[0]]
    _index_holds_exactly_its_nights(history)
    # Only the commit's intent stays: Redis could not be reached to undo what it may have
    # taken, so the next opening of the history, once this run has ended, settles it.
    assert [p.name for p in (tmp_path / "history").iterdir() if p.name.startswith(".") and p.name != ".lock"] == [
        f".{NIGHTS[1]}.commit-{run_tag()}"]
    history.commit(NIGHTS[1], docs[NIGHTS[1]], [])
    _index_holds_exactly_its_nights(history)
    assert not [p for p in (tmp_path / "history").iterdir() if p.name.startswith(".") and p.name != ".lock"]
    history.close()


KILLED_COMMITS = """
import sys, time
from tests.test_integrity import killed_commit_docs
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.history import History

docs = killed_commit_docs()
history = History(sys.argv[1], DedupConfig(), sys.argv[2])
print("ready", flush=True)
while True:
    history.commit("2026-11-25", docs[: 200 * (1 + int(time.time() * 10) % 3)], [])
"""


def killed_commit_docs() -> list:
    from pipeline.dedup.config import DedupConfig
    from pipeline.dedup.fingerprint import make_docs

    generator = TextGenerator(seed=4)
    return make_docs([{"key": f"n/{i}", "id": str(i), "text": generator.article()[1]} for i in range(600)],
                     "2026-11-25", DedupConfig())


def test_a_redis_commit_killed_at_any_point_holds_the_night_whole_or_not_at_all(redis_url, tmp_path):
    """Killed while committing one night again and again (200, 400 or 600 articles):
    the index holds one whole version of the night, never a part of one. (The folder and
    manifest may be one commit behind the index: the night's check then stops the next
    night until the commit is done again.)"""
    import redis

    from pipeline.dedup.config import DedupConfig
    from pipeline.dedup.history import History
    from pipeline.dedup.history.files import band_index
    from pipeline.dedup.history.redisindex import hex_prints

    redis.Redis.from_url(redis_url).flushdb()
    config = DedupConfig()
    docs = killed_commit_docs()
    versions = {}
    for size in (200, 400, 600):
        prints, owners = band_index(np.stack([d.signature for d in docs[:size]]),
                                    np.array([len(d.shingles) for d in docs[:size]]), config)
        versions[size] = set(zip(hex_prints(prints), owners.tolist()))
    kills = 0
    for delay in (0.15, 0.4, 0.65, 0.9):
        process = subprocess.Popen([sys.executable, "-c", KILLED_COMMITS, str(tmp_path), redis_url], cwd=ROOT,
                                   env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout.readline() == b"ready\n", process.stderr.read()
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        history = History(tmp_path, config, redis_url)
        index = history.index
        listed = index.nights()
        refs = set()
        for key in index.redis.scan_iter(match=f"{index.prefix}:band:*", count=10000):
            refs.update((key.decode().rsplit(":", 1)[1], int(ref.decode().partition("|")[2]))
                        for ref in index.redis.smembers(key))
        if listed:
            assert refs == versions[listed["2026-11-25"][1]]
        else:
            assert refs == set()
        history.close()
    assert kills == 4


# --- reading only what belongs to the night ------------------------------------------------------


def test_a_file_swapped_for_a_link_after_the_listing_is_refused(tmp_path):
    from pipeline.read.files import list_night
    from pipeline.read.readers import iter_file

    night = tmp_path / "night"
    night.mkdir()
    (night / "a.txt").write_text("Headline\n\nA story of the night, told in a sentence or two.\n")
    (tmp_path / "secret.txt").write_text("Outside\n\nText that must never be read into the night.\n")
    files, _ = list_night(night)
    (night / "a.txt").unlink()
    os.symlink(tmp_path / "secret.txt", night / "a.txt")  # after the listing, before the read
    (item,) = list(iter_file(night, files[0], "2026-11-27"))
    assert item.reason.startswith("not a regular file (a symbolic link")


def test_a_fifo_is_rejected_and_never_blocks_the_night(tmp_path):
    from pipeline.read.files import list_night
    from pipeline.read.readers import iter_file

    night = tmp_path / "night"
    night.mkdir()
    (night / "a.txt").write_text("Headline\n\nA story of the night, told in a sentence or two.\n")
    os.mkfifo(night / "pipe.txt")
    files, rejections = list_night(night)
    assert files == ["a.txt"]
    assert [(r.file, r.reason) for r in rejections] == [("pipe.txt", "not a regular file (a FIFO), not read")]
    (night / "a.txt").unlink()
    os.mkfifo(night / "a.txt")  # swapped in after the listing: refused without waiting for a writer
    (item,) = list(iter_file(night, "a.txt", "2026-11-27"))
    assert item.reason == "not a regular file (a FIFO), not read"


def test_a_night_with_a_fifo_completes(tmp_path):
    root = fresh(tmp_path, "fifo")
    os.mkfifo(root / "raw" / NIGHTS[0] / "pipe.txt")
    result = night_cli(root, NIGHTS[0])
    assert result.returncode == 0
    rejected = [orjson.loads(line) for line in (root / "out" / NIGHTS[0] / "rejected.jsonl").read_bytes().splitlines()]
    assert [(r["file"], r["reason"]) for r in rejected] == [("pipe.txt", "not a regular file (a FIFO), not read")]


def test_a_night_folder_that_is_a_link_is_not_followed(tmp_path):
    root = fresh(tmp_path, "linked")
    (root / "elsewhere").mkdir()
    os.rename(root / "raw" / NIGHTS[0], root / "elsewhere" / NIGHTS[0])
    os.symlink(root / "elsewhere" / NIGHTS[0], root / "raw" / NIGHTS[0])
    result = night_cli(root, NIGHTS[0])
    assert result.returncode == 3
    assert f"night {NIGHTS[0]}: no raw folder: {root / 'raw' / NIGHTS[0]} is a symbolic link, not followed" in result.stderr
    assert not (root / "out" / NIGHTS[0]).exists()


def test_a_dump_longer_than_the_reading_window_gives_the_whole_dumps_articles(tmp_path, seed_lines):
    from pipeline.read.readers import read_file
    from pipeline.read.segment import WINDOW_LINES, split_dump

    lines = seed_lines[1:] * (WINDOW_LINES // len(seed_lines) * 3)
    (tmp_path / "dump.txt").write_text("\n".join(lines), encoding="utf-8")
    articles = read_file(tmp_path, "dump.txt", "2026-11-27").articles
    chunks, _ = split_dump(lines)
    assert len(articles) == len(chunks) > 100
    assert [(a.title, a.text, a.source["line"]) for a in articles] == [
        (c.title, "\n".join(c.lines), c.first_line) for c in chunks]


# --- terminal-safe inspection ------------------------------------------------------------------


def test_inspect_shows_what_a_terminal_would_act_on_escaped(tmp_path):
    root = tmp_path / "escapes"
    folder = root / "raw" / NIGHTS[0]
    folder.mkdir(parents=True)
    story = ("The council met on Tuesday evening to vote on the new harbour plan, which the mayor said "
             "would bring work to the town for years to come.")
    hostile = {"id": "evil\x1b]0;pwned\x07", "url": "http://x.example/\x1b[2J", "title": "Title \x1b[31mred",
               "text": story + " \x1b[2J"}
    (folder / "feed\x1b[2J.jsonl").write_bytes(orjson.dumps(hostile) + b"\n" + orjson.dumps(
        {"id": "copy\x1b[2J", "text": story}) + b"\n")
    assert night_cli(root, NIGHTS[0]).returncode == 0
    out = root / "out" / NIGHTS[0]
    for args in ([], ["show", hostile["id"]], ["why", "copy\x1b[2J"]):
        result = subprocess.run([sys.executable, "-m", "pipeline", "inspect", str(out), *args], env=env(),
                                capture_output=True)
        assert result.returncode == 0, result.stderr
        assert b"\x1b" not in result.stdout and b"\x07" not in result.stdout
    shown = subprocess.run([sys.executable, "-m", "pipeline", "inspect", str(out), "show", hostile["id"]], env=env(),
                           capture_output=True, text=True).stdout
    assert "evil\\x1b]0;pwned\\x07" in shown and "http://x.example/\\x1b[2J" in shown
    as_json = subprocess.run([sys.executable, "-m", "pipeline", "inspect", str(out), "show", hostile["id"], "--json"],
                             env=env(), capture_output=True)
    assert orjson.loads(as_json.stdout)["article"]["url"] == hostile["url"]  # --json keeps the data as it is


# --- the history's files are checked, not trusted ---------------------------------------------


def test_a_checked_file_that_changes_is_read_again(three_nights, tmp_path):
    """A night's check trusts files unchanged since their last checksum; changed, even
    with the same size, they are read again."""
    root = tmp_path / "changed"
    shutil.copytree(three_nights, root)
    assert pipeline_cli(root, "history", "verify", "--quick").returncode == 0
    path = root / "state" / "history" / NIGHTS[0] / "signatures.npy"
    data = np.load(path)
    data[0, 0] ^= 1
    np.save(path, data)
    quick = pipeline_cli(root, "history", "verify", "--quick")
    assert quick.returncode == 11 and f"{path}: damaged (its checksum differs from the manifest's)" in quick.stdout
