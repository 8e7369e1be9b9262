"""What an operator touches around the chain: commands that use the night's own settings and
touch only the nights they name, exit codes for every outcome, settings checked before any
work, the schedule run under cron's bare environment, file modes, short task names,
logging, stage retention, and several clients (machines) finishing one night together."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.synthetic import TextGenerator
from tests.conftest import ROOT, SAMPLE_NIGHT, SAMPLES, free_port, installed_command, local_server

OUTPUTS = ("articles.jsonl", "duplicates.jsonl", "rejected.jsonl", "removed.jsonl", "report.html")


def env(**more: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **more}


def folders(root: Path) -> list[str]:
    return ["--pipeline-raw-dir", str(root / "raw"), "--pipeline-out-dir", str(root / "out"),
            "--pipeline-state-dir", str(root / "state")]


def luigi(root: Path, night: str, *more: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus", "--date", night, *more]
    return subprocess.run(command, cwd=cwd or root, env=kwargs.pop("env", env()), capture_output=True, text=True,
                          **kwargs)


def pipeline(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd or root, env=env(),
                          capture_output=True, text=True)


def sample_raw(root: Path, night: str = SAMPLE_NIGHT) -> Path:
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, root / "raw" / night)
    return root


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("newsclean: error:")]


# --- maintenance commands use the night's settings and touch only its night ----------------------


def test_rerun_with_flags_reruns_that_night_and_touches_no_other(tmp_path):
    """The issue's case: another night in ./out, the rerun's own folders given as flags."""
    elsewhere = sample_raw(tmp_path / "x")
    assert luigi(elsewhere, SAMPLE_NIGHT, "--local-scheduler", *folders(elsewhere)).returncode == 0
    here = tmp_path / "here"
    (here / "out" / SAMPLE_NIGHT).mkdir(parents=True)
    (here / "out" / SAMPLE_NIGHT / "articles.jsonl").write_text("another night's outputs\n")
    before = (elsewhere / "out" / SAMPLE_NIGHT / "articles.jsonl").read_bytes()
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "gazette-wire.txt", elsewhere / "raw" / SAMPLE_NIGHT / "late.txt")
    result = pipeline(here, "rerun", SAMPLE_NIGHT, *folders(elsewhere), "--local-scheduler")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (here / "out" / SAMPLE_NIGHT / "articles.jsonl").read_text() == "another night's outputs\n"
    assert sorted(p.name for p in (here / "out").iterdir()) == [SAMPLE_NIGHT]
    previous = elsewhere / "out" / f".{SAMPLE_NIGHT}.previous"
    assert f"night {SAMPLE_NIGHT}: previous outputs kept in {previous}" in result.stdout
    assert (previous / "articles.jsonl").read_bytes() == before
    inputs = orjson.loads((elsewhere / "out" / SAMPLE_NIGHT / "report.json").read_bytes())["inputs"]
    assert "late.txt" in [entry["file"] for entry in inputs]


def test_rerun_and_later_reruns_the_nights_that_compared_with_it_in_order(tmp_path):
    root = tmp_path / "nights"
    generator = TextGenerator(seed=9)
    stories = [generator.article(words=150) for _ in range(40)]
    nights = ["2026-11-25", "2026-11-26", "2026-11-27"]
    for k, night in enumerate(nights):
        folder = root / "raw" / night
        folder.mkdir(parents=True)
        records = [{"id": f"s{i}", "title": t, "text": x} for i, (t, x) in enumerate(stories[10 * k : 10 * k + 15])]
        (folder / "feed.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    for night in nights:
        assert luigi(root, night, "--local-scheduler", *folders(root)).returncode == 0
    # A late file on the first night repeats stories the later nights kept.
    (root / "raw" / nights[0] / "late.jsonl").write_bytes(b"".join(
        orjson.dumps({"id": f"late{i}", "title": t, "text": x}) + b"\n" for i, (t, x) in enumerate(stories[20:30])))
    late = pipeline(root, "late", nights[0], *folders(root))
    assert late.returncode == 1 and "late: late.jsonl" in late.stdout
    alone = pipeline(root, "rerun", nights[0], *folders(root), "--local-scheduler")
    assert alone.returncode == 0
    assert (f"later nights whose duplicates depended on {nights[0]} and are now out of date: {nights[1]}, {nights[2]}; "
            f"rerun them in order: python -m pipeline rerun {nights[1]} --and-later") in alone.stdout
    verify = pipeline(root, "history", "verify", *folders(root))
    assert f"warning: night {nights[1]} is stale" in verify.stdout
    again = pipeline(root, "rerun", nights[1], "--and-later", *folders(root), "--local-scheduler")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"night {nights[2]}: previous outputs kept in" in again.stdout
    assert pipeline(root, "history", "verify", *folders(root)).stdout.endswith(": sound\n")
    # Now the later nights drop what the first night kept from its late file.
    duplicates = [orjson.loads(line) for line in (root / "out" / nights[2] / "duplicates.jsonl").read_bytes().splitlines()]
    assert {d["dup_of"] for d in duplicates if d["dup_of_night"] == nights[0]} >= {"late0"}


def test_the_wrapper_reruns_with_its_luigi_flags(tmp_path):
    root = sample_raw(tmp_path)
    wrapper_env = env(LOG_DIR=str(tmp_path / "logs"), NEWSCLEAN_LUIGI_FLAGS=" ".join(folders(root)))
    wrapper = str(ROOT / "tasks" / "run-night.sh")
    assert subprocess.run([wrapper, SAMPLE_NIGHT], env=wrapper_env, capture_output=True).returncode == 0
    rerun = subprocess.run([wrapper, "--rerun", SAMPLE_NIGHT], env=wrapper_env, capture_output=True, text=True)
    assert rerun.returncode == 0
    assert "has not run yet" not in rerun.stdout
    assert f"previous outputs kept in {root / 'out' / f'.{SAMPLE_NIGHT}.previous'}" in rerun.stdout


# --- backfill over a range ------------------------------------------------------------------------


def test_backfill_skips_and_lists_nights_without_raw_data_and_tells_a_gap_from_a_failure(tmp_path):
    today = dt.date.today()
    nights = [(today - dt.timedelta(days=k)).isoformat() for k in (3, 2, 1)]
    root = tmp_path
    for night in (nights[0], nights[2]):
        sample_raw(root, night)
    wrapper_env = env(LOG_DIR=str(tmp_path / "logs"), NEWSCLEAN_LUIGI_FLAGS=" ".join(folders(root)))
    backfill = subprocess.run([str(ROOT / "tasks" / "backfill.sh"), "3"], env=wrapper_env, capture_output=True,
                              text=True)
    assert backfill.returncode == 3, backfill.stderr[-3000:]
    assert f"0 done, 2 to run, 1 without a raw folder ({nights[1]})" in backfill.stdout
    assert all((root / "out" / night / "report.json").is_file() for night in (nights[0], nights[2]))
    assert (tmp_path / "logs" / f"backfill-{today.isoformat()}.log").read_text().count("exit 3") == 2
    # Once done, the same backfill does nothing and still says the gap.
    again = subprocess.run([str(ROOT / "tasks" / "backfill.sh"), "3"], env=wrapper_env, capture_output=True, text=True)
    assert again.returncode == 3 and "2 done, 0 to run, 1 without a raw folder" in again.stdout
    # A night that fails is a failure, not a gap.
    sample_raw(root, nights[1])
    (root / "out" / nights[1]).write_text("a file where the night's output folder should be")
    failed = subprocess.run([str(ROOT / "tasks" / "backfill.sh"), "3"], env=wrapper_env, capture_output=True, text=True)
    assert failed.returncode == 4


# --- files as readable as the umask says --------------------------------------------------------------


@pytest.mark.parametrize("umask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_and_state_honour_the_umask(tmp_path, umask, file_mode, folder_mode):
    root = sample_raw(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus", "--date", SAMPLE_NIGHT,
         "--local-scheduler", *folders(root)],
        cwd=root, env=env(), capture_output=True, text=True, preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr[-2000:]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for folder in ("out", "state") for p in (root / folder).rglob("*")}
    assert {p: m for p, m in modes.items() if p.is_file() and m != file_mode} == {}
    assert {p: m for p, m in modes.items() if p.is_dir() and m != folder_mode} == {}


# --- short task names -----------------------------------------------------------------------------------


def test_a_shard_of_many_files_is_named_by_its_index_and_digest(tmp_path):
    root = tmp_path
    folder = root / "raw" / SAMPLE_NIGHT
    folder.mkdir(parents=True)
    generator = TextGenerator(seed=2)
    for i in range(620):
        title, text = generator.article(words=40)
        (folder / f"a-long-file-name-of-the-scraper-{i:05d}.txt").write_text(f"{title}\n\n{text}\n")
    result = luigi(root, SAMPLE_NIGHT, "--local-scheduler", "--log-level", "DEBUG", *folders(root))
    assert result.returncode == 0, result.stderr[-2000:]
    assert max(len(line) for line in result.stderr.splitlines()) < 400
    assert "ReadFile(date=2026-11-27, shard=1, digest=" in result.stderr
    stats = orjson.loads((root / "out" / SAMPLE_NIGHT / "stages" / "1-read" / "shard-00001.stats.json").read_bytes())
    assert [f["file"] for f in stats["files"]] == [f"a-long-file-name-of-the-scraper-{i:05d}.txt" for i in range(500, 620)]


# --- settings checked before any work ------------------------------------------------------------------


@pytest.mark.parametrize("setting, message", [
    ("treshold = 0.5", "unknown setting [pipeline] treshold (did you mean threshold?)"),
    ("raw_dri = /somewhere", "unknown setting [pipeline] raw_dri (did you mean raw_dir?)"),
    ("threshold = 80", "[pipeline] threshold = '80': must be between 0 and 1 (0 excluded)"),
    ("keep = newest", "[pipeline] keep = 'newest': must be one of first, longest, latest"),
    ("shard_bytes = -5", "[pipeline] shard_bytes = '-5': must be at least 1"),
    ("num_perm = many", "[pipeline] num_perm = 'many': expected a whole number"),
])
def test_a_bad_setting_stops_the_run_before_any_work(tmp_path, setting, message):
    root = sample_raw(tmp_path)
    (root / "bad.cfg").write_text(f"[pipeline]\n{setting}\n")
    result = luigi(root, SAMPLE_NIGHT, "--local-scheduler", *folders(root), env=env(LUIGI_CONFIG_PATH=str(root / "bad.cfg")))
    assert result.returncode == 9
    assert errors(result) == [f"newsclean: error: {message}"]
    assert not (root / "out").exists()


def test_a_malformed_date_is_one_line_and_exit_2(tmp_path):
    result = luigi(tmp_path, "2026/11/27", "--local-scheduler")
    assert result.returncode == 2
    assert result.stderr.strip() == "newsclean: error: --date '2026/11/27': not a night YYYY-MM-DD"


def test_a_missing_raw_night_names_the_folder_it_looked_for(tmp_path):
    result = luigi(tmp_path, "2026-11-01", "--local-scheduler", *folders(tmp_path))
    assert result.returncode == 3
    assert f"night 2026-11-01: no raw folder: {tmp_path / 'raw' / '2026-11-01'} does not exist" in result.stderr


def test_an_unreachable_scheduler_fails_fast_with_a_hint(tmp_path):
    port = free_port()
    result = luigi(sample_raw(tmp_path), SAMPLE_NIGHT, "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port),
                   *folders(tmp_path), timeout=40)  # Luigi alone retries for 61 s
    assert result.returncode == 10
    assert errors(result) == [f"newsclean: error: cannot reach the Luigi scheduler at http://127.0.0.1:{port}/ "
                              "(Connection refused): start luigid there, or run with --local-scheduler"]


def test_a_bad_rules_file_is_a_bad_setting(tmp_path):
    root = sample_raw(tmp_path)
    (root / "rules.toml").write_text('[[rules]]\nname = "x"\ncomment = "c"\npattern = "("\n')
    result = luigi(root, SAMPLE_NIGHT, "--local-scheduler", *folders(root), "--pipeline-rules", str(root / "rules.toml"))
    assert result.returncode == 9 and "bad pattern" in errors(result)[0]


# --- logging --------------------------------------------------------------------------------------------


def test_info_by_default_and_one_summary_line_per_night(tmp_path):
    root = sample_raw(tmp_path)
    result = luigi(root, SAMPLE_NIGHT, "--local-scheduler", *folders(root))
    assert result.returncode == 0
    assert "DEBUG" not in result.stderr
    (summary,) = [line for line in result.stderr.splitlines() if line.startswith(f"INFO: night {SAMPLE_NIGHT}:")]
    assert summary.startswith(f"INFO: night {SAMPLE_NIGHT}: 11 articles in, 9 out, 2 duplicates (1 exact, 1 minhash), "
                              "2 rejected, ")
    assert summary.endswith(f" s: {root / 'out' / SAMPLE_NIGHT / 'report.html'}")
    again = luigi(root, SAMPLE_NIGHT, "--local-scheduler", *folders(root))
    assert f"INFO: night {SAMPLE_NIGHT}: already done: 11 articles in, 9 out" in again.stderr
    debug = luigi(root, SAMPLE_NIGHT, "--local-scheduler", "--log-level", "DEBUG", *folders(root))
    assert "DEBUG: " in debug.stderr


# --- the schedule as shipped, under cron's bare environment --------------------------------------------


@pytest.fixture
def installed(tmp_path) -> Path:
    """The project as the install step leaves it: tasks/ and a .venv with newsclean beside them."""
    project = tmp_path / "opt" / "newsclean"
    project.mkdir(parents=True)
    shutil.copytree(ROOT / "tasks", project / "tasks")
    os.symlink(sys.prefix, project / ".venv")
    return project


def cron(project: Path, *args: str, **more: str) -> subprocess.CompletedProcess:
    bare = {"HOME": str(project), "LOGNAME": "newsclean", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", **more}
    return subprocess.run(["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in bare.items()),
                           str(project / "tasks" / "run-night.sh"), *args], capture_output=True, text=True)


def test_the_wrapper_runs_as_shipped_under_crons_environment(installed, tmp_path):
    unconfigured = cron(installed, SAMPLE_NIGHT)
    assert unconfigured.returncode == 9 and "not configured" in unconfigured.stderr
    data = sample_raw(tmp_path / "data")
    (installed / "luigi.cfg").write_text(f"[pipeline]\nraw_dir = {data / 'raw'}\nout_dir = {data / 'out'}\n"
                                         f"state_dir = {data / 'state'}\n")
    result = cron(installed, SAMPLE_NIGHT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"night {SAMPLE_NIGHT}: 11 articles in, 9 out" in result.stdout  # for the journal and cron's mail
    log = (installed / "logs" / f"{SAMPLE_NIGHT}.log").read_text()
    assert f"night {SAMPLE_NIGHT}: 11 articles in, 9 out" in log and log.rstrip().endswith("exit 0")
    assert cron(installed, "2026-11-01").returncode == 3
    assert cron(installed, "27/11/2026").returncode == 2
    config = tmp_path / "newsclean.cfg"
    config.write_text("[pipeline]\ntreshold = 0.5\n")
    assert cron(installed, SAMPLE_NIGHT, NEWSCLEAN_CONFIG=str(config)).returncode == 9
    # Luigi's own variable names the configuration too.
    (installed / "luigi.cfg").unlink()
    other = tmp_path / "elsewhere.cfg"
    other.write_text(f"[pipeline]\nraw_dir = {data / 'raw'}\nout_dir = {data / 'out2'}\nstate_dir = {data / 'state2'}\n")
    assert cron(installed, SAMPLE_NIGHT).returncode == 9  # not configured
    by_luigi = cron(installed, SAMPLE_NIGHT, LUIGI_CONFIG_PATH=str(other))
    assert by_luigi.returncode == 0 and (data / "out2" / SAMPLE_NIGHT / "articles.jsonl").is_file()


def test_the_wrapper_says_when_it_finds_no_python_with_newsclean(installed):
    (installed / ".venv").unlink()
    result = cron(installed, SAMPLE_NIGHT, NEWSCLEAN_PYTHON="/nonexistent/python")  # and no python3 with it on PATH
    assert result.returncode == 12
    assert "no Python with newsclean installed" in result.stderr


# --- stage retention --------------------------------------------------------------------------------------


def test_old_nights_stages_are_pruned_to_what_inspect_reads(tmp_path):
    root = tmp_path
    nights = ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    for night in nights:
        sample_raw(root, night)
    for night in nights:
        assert luigi(root, night, "--local-scheduler", "--pipeline-keep-stages", "2", *folders(root)).returncode == 0
    for night in nights[:2]:
        stages = root / "out" / night / "stages"
        assert sorted(p.relative_to(stages).as_posix() for p in stages.rglob("*") if p.is_file()) == [
            "3-clean/dropped.articles.jsonl", "3-site-lines/counts.json", "5-dedup/history.stats.json",
            "5-dedup/stats.json", "pruned.json", "run.json"]
    assert (root / "out" / nights[2] / "stages" / "4-sign").is_dir()  # the last two nights keep theirs
    # The pruned night is still done, and inspect still explains its duplicates.
    again = luigi(root, nights[1], "--local-scheduler", *folders(root))
    assert f"night {nights[1]}: already done" in again.stderr
    out = root / "out" / nights[1]
    dropped = [orjson.loads(line) for line in (out / "duplicates.jsonl").read_bytes().splitlines()]
    assert dropped
    for duplicate in dropped:
        why = pipeline(root, "inspect", str(out), "why", duplicate["id"], "--json")
        data = orjson.loads(why.stdout)
        assert data["article"] is not None and data["kept"] is not None
    assert pipeline(root, "history", "verify", *folders(root)).returncode == 0


# --- several clients finish one night together ---------------------------------------------------------


def test_two_luigi_clients_started_separately_finish_one_night_together(tmp_path, redis_url):
    """The multi-machine set-up on one machine: one luigid, one Redis index, out_dir and
    state_dir shared; two clients started separately, each from its own working folder
    (and its own lock folder, as on its own machine)."""
    import urllib.request

    import redis

    from tests.test_operations import make_busy_night

    # Shards of 10 files: about 80 tasks, so that the night lasts well past the second
    # client's start however fast the chain gets (with 40 files a shard, a faster chain
    # let the first client finish the night alone).
    reference = tmp_path / "reference"
    make_busy_night(reference)
    redis.Redis.from_url(redis_url).flushdb()
    assert luigi(reference, SAMPLE_NIGHT, "--local-scheduler", "--pipeline-shard-files", "10",
                 "--pipeline-index-url", redis_url, *folders(reference)).returncode == 0
    shared = tmp_path / "shared"
    shutil.copytree(reference / "raw", shared / "raw")
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    (tmp_path / "luigid-logs").mkdir()
    luigid = [installed_command("luigid"), "--address", "127.0.0.1", "--port", str(port),
              "--state-path", str(tmp_path / "luigid.pickle"), "--logdir", str(tmp_path / "luigid-logs")]
    with local_server(luigid, port):
        clients = []
        for name in ("machine-a", "machine-b"):
            workdir = tmp_path / name
            workdir.mkdir()
            command = [sys.executable, "-m", "pipeline", "night", SAMPLE_NIGHT,
                       "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port),
                       "--lock-pid-dir", str(workdir / "locks"), "--pipeline-shard-files", "10",
                       "--pipeline-index-url", redis_url, *folders(shared)]
            clients.append(subprocess.Popen(command, cwd=workdir, env=env(), stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))
        ran = []
        for client in clients:  # each waits for the other's tasks, and ends with the night done
            _, stderr = client.communicate(timeout=300)
            assert client.returncode == 0, stderr[-3000:]
            ran.append({line.split(" running ")[1].strip() for line in stderr.splitlines() if " running " in line})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/task_list?data=%7B%22status%22%3A%22DONE%22%7D") as r:
            done = orjson.loads(r.read())["response"]
    assert all(ran) and not ran[0] & ran[1]  # both clients ran tasks, never the same one
    assert sum(name.startswith("ReadFile") for name in done) > 1
    for name in (*OUTPUTS, "report.json"):
        mine, theirs = (folder / "out" / SAMPLE_NIGHT / name for folder in (shared, reference))
        if name == "report.json":
            mine, theirs = ({k: v for k, v in orjson.loads(p.read_bytes()).items() if k != "seconds"} for p in (mine, theirs))
            assert mine == theirs
        else:
            assert mine.read_bytes() == theirs.read_bytes(), name
    assert (orjson.loads((shared / "state" / "history" / "MANIFEST.json").read_bytes())
            == orjson.loads((reference / "state" / "history" / "MANIFEST.json").read_bytes()))
