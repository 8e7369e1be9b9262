"""A new user's first hour: the card's command as printed, help that teaches, mistakes that
are said instead of silently ignored. Run as a user runs them: the commands, from a
folder of their own."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.test_integrity import env

YESTERDAY = (dt.date.today() - dt.timedelta(days=1)).isoformat()


def run(folder: Path, *command: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=folder, env=env(), capture_output=True, text=True, **options)


def test_the_cards_command_without_a_date_runs_last_nights_night(tmp_path):
    card = [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus", "--local-scheduler",
            "--pipeline-raw-dir", "raw"]
    missing = run(tmp_path, *card)
    assert missing.returncode == 3
    assert f"night {YESTERDAY}: no raw folder: {tmp_path / 'raw' / YESTERDAY} does not exist" in missing.stderr
    shutil.copytree(SAMPLES / "2026-11-27", tmp_path / "raw" / YESTERDAY)
    done = run(tmp_path, *card)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"INFO: night {YESTERDAY}: 11 articles in, 9 out" in done.stderr


def test_the_commands_use_the_local_scheduler_unless_one_is_configured(tmp_path):
    shutil.copytree(SAMPLES / "2026-11-27", tmp_path / "raw" / "2026-11-27")
    night = run(tmp_path, sys.executable, "-m", "pipeline", "night", "2026-11-27", "--pipeline-raw-dir", "raw")
    assert night.returncode == 0, night.stderr[-2000:]
    assert night.stderr.startswith("newsclean: night with the local scheduler (no [core] scheduler_host nor "
                                   "--scheduler-host)\n")
    rerun = run(tmp_path, sys.executable, "-m", "pipeline", "rerun", "2026-11-27", "--pipeline-raw-dir", "raw")
    assert rerun.returncode == 0 and "previous outputs kept in out/.2026-11-27.previous" in rerun.stdout
    backfill = run(tmp_path, sys.executable, "-m", "pipeline", "backfill", "--days", "3", "--to", "2026-11-28",
                   "--pipeline-raw-dir", "raw")
    assert backfill.returncode == 3  # two of the three nights have no raw folder
    # A scheduler named in [core] is used (and unreachable here: exit 10, at once).
    (tmp_path / "luigi.cfg").write_text("[core]\nscheduler_host = 127.0.0.1\nscheduler_port = 1\n")
    central = run(tmp_path, sys.executable, "-m", "pipeline", "night", "2026-11-26", "--pipeline-raw-dir", "raw")
    assert central.returncode == 10
    assert "newsclean: night with the central scheduler of [core] scheduler_host" in central.stderr


def test_backfills_plan_comes_before_luigis_log_under_a_pipe(tmp_path):
    shutil.copytree(SAMPLES / "2026-11-27", tmp_path / "raw" / "2026-11-27")
    result = subprocess.run([sys.executable, "-m", "pipeline", "backfill", "--from", "2026-11-27", "--to",
                             "2026-11-27", "--pipeline-raw-dir", "raw"], cwd=tmp_path, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    plan = lines.index("backfill 2026-11-27..2026-11-27: 0 done, 1 to run, 0 without a raw folder")
    assert plan < lines.index("===== Luigi Execution Summary =====")


def test_help_teaches_the_date_its_default_and_the_settings(tmp_path):
    night = run(tmp_path, sys.executable, "-m", "pipeline", "night", "--help")
    assert night.returncode == 0
    assert f"the night, YYYY-MM-DD (default: yesterday, {YESTERDAY})" in night.stdout
    assert "--local-scheduler" in night.stdout and "--workers N" in night.stdout
    assert "--pipeline-raw-dir VALUE             folder of night folders YYYY-MM-DD (default: samples)" in night.stdout
    verify = run(tmp_path, sys.executable, "-m", "pipeline", "history", "verify", "--help")
    history = run(tmp_path, sys.executable, "-m", "pipeline", "history", "--help")
    assert "--quick" in verify.stdout and "--quick" not in history.stdout
    top = run(tmp_path, sys.executable, "-m", "pipeline", "--help")
    assert "``" not in top.stdout and "Installed as the `newsclean` command" in top.stdout
    installed = Path(sys.executable).with_name("newsclean")
    if installed.exists():
        assert run(tmp_path, str(installed), "--help").stdout.startswith("usage: newsclean [-h] COMMAND")


def test_a_misspelt_section_is_named_not_ignored(tmp_path):
    (tmp_path / "raw" / "2026-11-27").mkdir(parents=True)
    (tmp_path / "luigi.cfg").write_text("[pipline]\nraw_dir = raw\n")
    result = run(tmp_path, sys.executable, "-m", "pipeline", "night", "2026-11-27")
    assert result.returncode == 9
    assert result.stderr.splitlines()[-1] == "newsclean: error: unknown section [pipline] (did you mean [pipeline]?)"


def test_the_tasks_do_no_work_when_luigi_asks_what_they_need(night):
    """Luigi asks every task what it needs many times, in every process: that writes
    nothing and opens no history (a damaged one goes unnoticed); the night's pre-flight,
    run once, does the checks: run.json written, the damage found (exit 11)."""
    from pipeline import tasks
    from pipeline.operate.preflight import preflight

    for source in sorted((SAMPLES / "2026-11-27").iterdir()):
        night.copy(source)
    (night.state_dir / "history").mkdir(parents=True)
    (night.state_dir / "history" / "2026-11-20").mkdir()  # a night folder without a manifest
    date = dt.date(2026, 11, 27)
    with night.settings():
        assert not tasks.CleanCorpus(date=date).complete()
        for task in [tasks.Deduplicate(date=date), tasks.CountSiteLines(date=date), tasks.CommitHistory(date=date),
                     tasks.WriteOutputs(date=date), tasks.GatherRemoved(date=date)]:
            task.requires()
            assert not task.complete()
        for shard in tasks.Deduplicate(date=date).shard_tasks(tasks.ReadFile):
            shard.requires()
        assert not (night.out / "stages" / "run.json").exists()
        assert sorted(p.name for p in (night.state_dir / "history").iterdir()) == ["2026-11-20"]
        with pytest.raises(SystemExit) as stopped:
            preflight(date)
        assert stopped.value.code == 11
        assert (night.out / "stages" / "run.json").is_file()


def test_a_nights_shard_tasks_plan_the_night_once_and_still_notice_a_shard_that_changed(night, monkeypatch):
    """Listing a night looks at every file: the night's tasks plan it once and tell each
    shard task its shard (a night of thousands of files paid it once a task). A shard
    whose files changed since is still refused when its task runs."""
    from pipeline import taskbase, tasks

    for number in range(6):
        night.add(f"feed-{number}.jsonl", '{"title": "T", "text": "Words of a story."}\n' * (number + 1))
    planned = []
    plan_night = taskbase.plan_night
    monkeypatch.setattr(taskbase, "plan_night", lambda *given: planned.append(given) or plan_night(*given))
    date = dt.date.fromisoformat(night.date)
    with night.settings(shard_files=2):
        shards = tasks.Deduplicate(date=date).shard_tasks(tasks.ReadFile)
        assert [s.planned.files for s in shards[:2]] == [("feed-0.jsonl", "feed-1.jsonl"), ("feed-2.jsonl", "feed-3.jsonl")]
        upstream = tasks.CleanFile(date=date, shard=2, digest=shards[2].digest).upstream(tasks.ReadFile)
        assert upstream is shards[2] and upstream.planned.files == ("feed-4.jsonl", "feed-5.jsonl")
        assert len(planned) == 1
        night.add("feed-5.jsonl", "{}\n")  # shard 2's second file, rewritten shorter after planning
        del shards[2].__dict__["planned"]  # as the task's own process finds it when it runs
        with pytest.raises(RuntimeError, match="files changed since this run planned shard 2"):
            shards[2].planned
        assert shards[1].planned.files == ("feed-2.jsonl", "feed-3.jsonl") and len(planned) == 1
