"""Operating the night: hostile input, SIGKILL and rerun, disk errors, late files, workers."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.io.jsonl import OutputError, atomic_writer, place_file
from pipeline.read.readers import read_file
from tests.conftest import (
    ROOT,
    SAMPLE_NIGHT,
    SAMPLES,
    _without_seconds,
    free_port,
    installed_command,
    local_server,
)

STORY = (
    "The harbour authority said on Monday that the new ferry terminal would open in the spring, after "
    "two years of delays caused by a dispute over the size of the car park and the cost of moving the old "
    "fish market to the southern quay of the town."
)


def good_txt(i: int) -> str:
    return f"Headline number {i}\n\n{STORY} Story {i} adds that the council will vote on day {i}.\n"


# --- hostile input -------------------------------------------------------------------------


def test_hostile_input_never_sinks_the_night(night, tmp_path):
    night.add("good-1.txt", good_txt(1))
    night.add("good-2.jsonl", orjson.dumps({"id": "g2", "text": STORY + " From the feed."}) + b"\n")
    rng = random.Random(5)
    night.add("binary.txt", bytes(rng.randrange(256) for _ in range(5000)))
    night.add("empty.txt", b"")
    night.add("nul-bytes.txt", "Museum news\n\nThree bronze statues taken from the fishing village more than "
                               "a century ago returned home on Saturday, after the har\x00bour museum agreed to "
                               "hand them back to the villagers.\n")
    whole = gzip.compress(b"".join(orjson.dumps({"id": f"z{i}", "text": f"{STORY} Part {i} of {i * 7919}."})
                                   + b"\n" for i in range(300)), mtime=0)
    night.add("truncated.jsonl.gz", whole[: len(whole) * 2 // 3])
    night.add("typed.jsonl", b'{"id": "t1", "text": ["not", "a", "string"]}\n{"id": {"x": 1}, "text": "t"}\n'
                             b'not json at all\n[1, 2]\n' + orjson.dumps({"id": "t5", "text": STORY}) + b"\n")
    night.add("one-long-line.txt", ("word " * 2_000_000).encode())  # a single 10 MB line
    night.add("utf16.txt", ("Überschrift\r\n\r\nDer Stadtrat hat am Dienstag nach langer Debatte den neuen "
                            "Haushalt beschlossen, der vor allem die Reparatur der alten Brücke vorsieht. "
                            "Grüße aus Köln.").encode("utf-16"))
    (tmp_path / "secret.txt").write_text("outside the raw folder")
    os.symlink(tmp_path / "secret.txt", night.raw / "link.txt")
    assert night.run()

    ids = [a["id"] for a in night.records("articles.jsonl")]
    titles = {a["id"]: a["title"] for a in night.records("articles.jsonl")}
    texts = {a["id"]: a["text"] for a in night.records("articles.jsonl")}
    duplicates = {d["id"] for d in night.records("duplicates.jsonl")}
    assert f"{night.date}/good-1.txt#0" in ids and "g2" in ids
    assert titles[f"{night.date}/utf16.txt#0"] == "Überschrift" and "Grüße aus Köln." in texts[f"{night.date}/utf16.txt#0"]
    assert "harbour" in texts[f"{night.date}/nul-bytes.txt#0"]
    assert len(texts[f"{night.date}/one-long-line.txt#0"]) == 10_000_000 - 1
    recovered = {i for i in ids + sorted(duplicates) if i.startswith("z")}
    assert 0 < len(recovered) < 300
    assert "t5" in ids + sorted(duplicates)
    rejected = {(r["file"], r["reason"].split(":")[0].split(" (")[0]) for r in night.records("rejected.jsonl")}
    assert rejected >= {
        ("binary.txt", "binary file, not text"),
        ("empty.txt", "empty file"),
        ("truncated.jsonl.gz", "truncated gzip data"),
        ("truncated.jsonl.gz", "malformed JSON"),
        ("typed.jsonl", "field 'text' must be a string, got list"),
        ("typed.jsonl", "field 'id' must be a string or an integer, got dict"),
        ("typed.jsonl", "malformed JSON"),
        ("typed.jsonl", "not a JSON object but a list"),
        ("link.txt", "symbolic link pointing outside the night's folder, not followed"),
    }
    assert all(r["file"] and r["reason"] for r in night.records("rejected.jsonl"))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000), name=st.sampled_from(["x.txt", "x.jsonl", "x.txt.gz", "x.jsonl.gz"]))
def test_readers_take_any_bytes(tmp_path_factory, data, name):
    folder = tmp_path_factory.mktemp("bytes")
    if name.endswith(".gz") and data[:1] == b"\x00":
        data = gzip.compress(data[1:], mtime=0)  # half the examples are real gzip
    (folder / name).write_bytes(data)
    result = read_file(folder, name, SAMPLE_NIGHT)
    for article in result.articles:
        assert "\x00" not in article.text and article.source["file"] == name
    for rejection in result.rejections:
        assert rejection.file == name and rejection.reason
    if not data.strip():
        assert result.articles == [] and result.rejections


# --- disk errors ----------------------------------------------------------------------------


def test_disk_full_is_a_clear_error_naming_the_path_and_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out" / "articles.jsonl"

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # where a full disk shows when data reaches it
    with pytest.raises(OutputError) as error:
        with atomic_writer(target) as handle:
            handle.write(b"x" * 100_000)
    monkeypatch.undo()
    assert str(target) in str(error.value) and "No space left on device" in str(error.value)
    assert list(target.parent.iterdir()) == []


def test_placed_files_are_links_where_possible_else_copies_and_never_partial(tmp_path, monkeypatch):
    source = tmp_path / "stages" / "removed.jsonl"
    with atomic_writer(source) as handle:
        handle.write(b'{"id":"a"}\n')
    linked, copied = tmp_path / "out" / "removed.jsonl", tmp_path / "out" / "copied.jsonl"
    place_file(source, linked)
    assert linked.read_bytes() == source.read_bytes() and linked.stat().st_ino == source.stat().st_ino
    place_file(source, linked)  # again, over the first
    assert linked.read_bytes() == source.read_bytes()

    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)  # a filesystem without hard links
    place_file(source, copied)
    assert copied.read_bytes() == source.read_bytes() and copied.stat().st_ino != source.stat().st_ino
    monkeypatch.undo()
    assert sorted(p.name for p in linked.parent.iterdir()) == ["copied.jsonl", "removed.jsonl"]


def test_unwritable_output_folder_fails_the_run_naming_the_path(tmp_path):
    (tmp_path / "raw" / SAMPLE_NIGHT).mkdir(parents=True)
    (tmp_path / "raw" / SAMPLE_NIGHT / "a.txt").write_text(good_txt(1))
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    result = luigi_cli(tmp_path, "--pipeline-out-dir", str(tmp_path / "blocked"))
    assert result.returncode == 4
    assert f"cannot write {tmp_path / 'blocked' / SAMPLE_NIGHT}" in result.stderr


# --- killed runs ----------------------------------------------------------------------------


def luigi_cli(root: Path, *flags: str, popen: bool = False, runner: tuple[str, ...] = ("-m", "luigi")):
    """The night by Luigi's command line (``runner``: how Python starts it)."""
    command = [
        sys.executable, *runner, "--module", "pipeline.tasks", "CleanCorpus", "--date", SAMPLE_NIGHT,
        "--pipeline-raw-dir", str(root / "raw"), "--pipeline-out-dir", str(root / "out"),
        "--pipeline-state-dir", str(root / "state"), *flags,
    ]
    if "--scheduler-host" not in flags:
        command.append("--local-scheduler")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if popen:
        return subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def output_bytes(root: Path) -> dict[str, bytes]:
    out = root / "out" / SAMPLE_NIGHT
    return {
        p.relative_to(out).as_posix(): _without_seconds(p.read_bytes())
        if p.name == "report.json" or p.name.endswith("stats.json") else p.read_bytes()
        for p in sorted(out.rglob("*")) if p.is_file()
    }


def make_busy_night(root: Path) -> None:
    """A night of a few seconds: samples plus 400 files of generated articles, in many shards."""
    from bench.synthetic import TextGenerator

    raw = root / "raw" / SAMPLE_NIGHT
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, raw)
    generator = TextGenerator(seed=3)
    for i in range(400):
        title, text = generator.article(words=250)
        (raw / f"gen-{i:03d}.txt").write_text(f"{title}\n\n{text}\n" if i % 7 else f"{title}\n\n{STORY}\n")


def test_a_run_killed_at_any_point_then_rerun_gives_the_same_outputs(tmp_path):
    reference = tmp_path / "reference"
    make_busy_night(reference)
    started = time.monotonic()
    assert luigi_cli(reference, "--pipeline-shard-files", "40").returncode == 0
    duration = time.monotonic() - started
    killed = tmp_path / "killed"
    shutil.copytree(reference / "raw", killed / "raw")
    kills = 0
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9):
        process = luigi_cli(killed, "--pipeline-shard-files", "40", popen=True)
        time.sleep(duration * fraction)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3
    assert luigi_cli(killed, "--pipeline-shard-files", "40").returncode == 0
    assert output_bytes(killed) == output_bytes(reference)
    assert not [p for p in (killed / "out").rglob("*.tmp")]


# Luigi's command line, in a process that dies (os._exit, as kill -9) where the history
# commit would write its manifest: the night's folder is in place, the manifest does not
# list it yet.
DIES_BEFORE_THE_MANIFEST = """
import os, sys
import luigi.cmdline
from pipeline.dedup.history import store
store.History.write_manifest = lambda self, nights: os._exit(137)
luigi.cmdline.luigi_run(sys.argv[1:])
"""


def test_a_night_killed_before_its_history_manifest_was_written_finishes_when_run_again(tmp_path):
    # Met in CI by the kill-at-any-point test: the first commit's folder in place and no
    # manifest yet, which the next run took for a history whose manifest was lost (exit 11).
    reference, killed = samples_run_and_copied(tmp_path)
    assert luigi_cli(killed, runner=("-c", DIES_BEFORE_THE_MANIFEST)).returncode == 137
    history = killed / "state" / "history"
    assert (history / SAMPLE_NIGHT).is_dir() and not (history / "MANIFEST.json").exists()
    assert luigi_cli(killed).returncode == 0
    assert output_bytes(killed) == output_bytes(reference)
    assert history_bytes(killed) == history_bytes(reference)


def samples_run_and_copied(tmp_path: Path) -> tuple[Path, Path]:
    """The samples' night run once through Luigi (the reference), and a folder holding the
    same raw files, not yet run."""
    reference = tmp_path / "reference"
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, reference / "raw" / SAMPLE_NIGHT)
    assert luigi_cli(reference).returncode == 0
    killed = tmp_path / "killed"
    shutil.copytree(reference / "raw", killed / "raw")
    return reference, killed


def history_bytes(root: Path) -> dict[str, bytes]:
    folder = root / "state" / "history"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (".checked.json", ".lock")}


def test_a_run_killed_while_it_recorded_its_settings_records_them_when_run_again(tmp_path):
    # Killed between writing run.json's temporary file and linking it into place: the
    # stages folder holds only that file. The next run clears it and records its settings
    # (before, it took the folder for a night started by a version that kept no record:
    # no run.json, so a resume with other settings was not stopped, and the temporary
    # file stayed among the outputs).
    import socket

    reference, killed = samples_run_and_copied(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stages = killed / "out" / SAMPLE_NIGHT / "stages"
    stages.mkdir(parents=True)
    (stages / f".run.json.{socket.gethostname()}-{gone.pid}.k1ll3d.tmp").write_bytes(b'{\n  "dedup": "shin')
    assert luigi_cli(killed).returncode == 0
    assert output_bytes(killed) == output_bytes(reference)
    assert (stages / "run.json").read_bytes() == (reference / "out" / SAMPLE_NIGHT / "stages" / "run.json").read_bytes()
    assert not [p for p in (killed / "out").rglob("*.tmp")]


# --- late files and reruns ----------------------------------------------------------------


def run_pipeline_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", *args, "--pipeline-raw-dir", str(root / "raw"),
               "--pipeline-out-dir", str(root / "out"), "--pipeline-state-dir", str(root / "state")]
    return subprocess.run(command, cwd=root, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)


def test_late_files_are_reported_and_a_rerun_includes_them(tmp_path):
    (tmp_path / "raw" / SAMPLE_NIGHT).mkdir(parents=True)
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "harbour-times.txt", tmp_path / "raw" / SAMPLE_NIGHT)
    assert luigi_cli(tmp_path).returncode == 0
    assert run_pipeline_cli(tmp_path, "late", SAMPLE_NIGHT).returncode == 0
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "gazette-wire.txt", tmp_path / "raw" / SAMPLE_NIGHT)
    assert luigi_cli(tmp_path).returncode == 0  # a finished night is not redone by itself
    articles = tmp_path / "out" / SAMPLE_NIGHT / "articles.jsonl"
    assert b"gazette-wire.txt" not in articles.read_bytes()
    late = run_pipeline_cli(tmp_path, "late", SAMPLE_NIGHT)
    assert late.returncode == 1 and "late: gazette-wire.txt" in late.stdout
    rerun = run_pipeline_cli(tmp_path, "rerun", SAMPLE_NIGHT, "--local-scheduler")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert b"gazette-wire.txt" in articles.read_bytes()
    assert run_pipeline_cli(tmp_path, "late", SAMPLE_NIGHT).returncode == 0
    previous = tmp_path / "out" / f".{SAMPLE_NIGHT}.previous"  # kept, and said where
    assert f"previous outputs kept in {previous}" in rerun.stdout
    assert b"gazette-wire.txt" not in (previous / "articles.jsonl").read_bytes()


def test_the_wrapper_logs_to_a_dated_file_and_returns_luigis_code(tmp_path):
    env = {**os.environ, "LOG_DIR": str(tmp_path / "logs"), "PYTHONPATH": str(ROOT),
           "NEWSCLEAN_LUIGI_FLAGS": f"--pipeline-raw-dir {tmp_path / 'raw'} --pipeline-out-dir {tmp_path / 'out'} "
                                    f"--pipeline-state-dir {tmp_path / 'state'}"}
    (tmp_path / "raw" / SAMPLE_NIGHT).mkdir(parents=True)
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "harbour-times.txt", tmp_path / "raw" / SAMPLE_NIGHT)
    wrapper = str(ROOT / "tasks" / "run-night.sh")
    assert subprocess.run([wrapper, SAMPLE_NIGHT], env=env).returncode == 0
    assert subprocess.run([wrapper, "2026-11-01"], env=env).returncode == 3
    log = (tmp_path / "logs" / f"{SAMPLE_NIGHT}.log").read_text()
    assert "CleanCorpus --date 2026-11-27" in log and "exit 0" in log
    assert "exit 3" in (tmp_path / "logs" / "2026-11-01.log").read_text()
    assert (tmp_path / "out" / SAMPLE_NIGHT / "report.json").is_file()


# --- more workers, a central scheduler ------------------------------------------------------


def test_two_workers_on_a_real_luigid_give_the_same_outputs(tmp_path):
    local = tmp_path / "local"
    make_busy_night(local)
    assert luigi_cli(local, "--pipeline-shard-files", "40").returncode == 0
    shared = tmp_path / "shared"
    shutil.copytree(local / "raw", shared / "raw")
    port = free_port()
    (tmp_path / "luigid-logs").mkdir()
    luigid = [installed_command("luigid"), "--address", "127.0.0.1", "--port", str(port),
              "--state-path", str(tmp_path / "luigid.pickle"), "--logdir", str(tmp_path / "luigid-logs")]
    with local_server(luigid, port):
        result = luigi_cli(shared, "--pipeline-shard-files", "40", "--workers", "2",
                           "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port))
        assert result.returncode == 0, result.stderr[-2000:]
        assert "workers=2" in result.stderr
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/task_list?data=" + "%7B%22status%22%3A%22DONE%22%7D") as r:
            done = orjson.loads(r.read())["response"]
        assert sum(name.startswith("ReadFile") for name in done) > 1
    assert output_bytes(shared) == output_bytes(local)


def test_processes_within_a_task_give_the_same_outputs(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    make_busy_night(one)
    shutil.copytree(one / "raw", two / "raw")
    assert luigi_cli(one, "--pipeline-processes", "1").returncode == 0
    assert luigi_cli(two, "--pipeline-processes", "2").returncode == 0
    assert output_bytes(two) == output_bytes(one)


def test_the_benchmarks_timeline_counts_the_seconds_with_k_tasks_running():
    from bench.run_night import busy_seconds

    events = [  # two workers: a starts, b starts, a fails, c starts, b and c end
        {"t": 10.5, "event": "start", "task": "a"}, {"t": 11.0, "event": "start", "task": "b"},
        {"t": 12.0, "event": "end", "task": "a"}, {"t": 12.25, "event": "start", "task": "c"},
        {"t": 13.0, "event": "end", "task": "b"}, {"t": 14.0, "event": "end", "task": "c"},
    ]
    assert busy_seconds(10.0, 5.0, list(reversed(events))) == {
        "before_first_task": 0.5, "tasks_running": {"0": 1.5, "1": 1.75, "2": 1.75}}


def test_the_benchmarks_night_reports_a_timeline_from_every_worker(tmp_path):
    command = [sys.executable, "-m", "bench.run_night", SAMPLE_NIGHT, str(SAMPLES), str(tmp_path / "out"),
               str(tmp_path / "state"), "--workers", "2"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    measured = orjson.loads(result.stdout)
    timeline = measured["timeline"]
    assert measured["ok"] is True
    assert set(timeline["tasks_running"]) <= {"0", "1", "2"}
    # Every second of the night is in one count, and tasks ran in the workers' processes.
    assert sum(timeline["tasks_running"].values()) == pytest.approx(measured["seconds"], abs=0.01)
    assert 0 < timeline["before_first_task"] <= timeline["tasks_running"]["0"]
    assert timeline["tasks_running"]["1"] > 0


def test_the_floor_benchmark_times_each_step_on_every_article_of_a_night(tmp_path):
    from bench.floor import step_seconds

    command = [sys.executable, "-m", "bench.run_night", SAMPLE_NIGHT, str(SAMPLES), str(tmp_path / "out"),
               str(tmp_path / "state")]
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    stages = tmp_path / "out" / SAMPLE_NIGHT / "stages"
    steps, articles = step_seconds(stages, repeat=1)
    read = [line for path in (stages / "1-read").glob("shard-*.articles.jsonl")
            for line in path.read_bytes().splitlines() if line.strip()]
    assert articles == len(read) > 10
    assert list(steps) == ["parse", "repair", "languages", "sign"]
    assert all(seconds > 0 for seconds in steps.values())


def test_the_benchmarks_memory_sampler_adds_up_the_tree_it_watches_and_leaves_out_what_it_is_told():
    from bench.memory import Sampler, TreeMemory

    # A child of this process holding 96 MB, touched (so resident), until told to end.
    child = subprocess.Popen([sys.executable, "-c", "import sys; b = bytearray(96 << 20); print('ready', flush=True); "
                              "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"ready\n"
        with_child = TreeMemory(os.getpid()).sample()
        without_child = TreeMemory(os.getpid(), skip=child.pid).sample()
        # Stopped while the child holds its memory: the sampler's last round, at its stop,
        # sees it however slowly the sampler started.
        sampler = Sampler(interval=0.01)
        peaks = sampler.stop()
    finally:
        child.communicate(b"")
    assert peaks["rss"] >= 96 << 20 and peaks["pss"] >= 96 << 20
    assert with_child[0] - without_child[0] >= 96 << 20
    assert with_child[1] - without_child[1] >= 96 << 20
