"""End to end: the Luigi chain on temporary folders, every output file checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT, SAMPLE_NIGHT, SAMPLES, Night

SAMPLE_IDS = [
    "2026-11-27/gazette-wire.txt#0",
    "2026-11-27/gazette-wire.txt#1",
    "2026-11-27/harbour-times.txt#0",
    "2026-11-27/harbour-times.txt#1",
    "2026-11-27/harbour-times.txt#2",
    "2026-11-27/legacy-latin1.txt#0",
    "2026-11-27/mojibake-notice.txt#0",
    "arch-0001",
    "feed-0001",
]


@pytest.fixture
def sample_night(night: Night) -> Night:
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, night.raw, dirs_exist_ok=True)
    assert night.run()
    return night


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def test_samples_articles(sample_night):
    articles = sample_night.records("articles.jsonl")
    assert [a["id"] for a in articles] == SAMPLE_IDS
    assert set(articles[0]) == {
        "id", "title", "text", "captions", "url", "date", "source", "fixes", "published", "meta", "lang"
    }
    assert {x["id"]: x["lang"] for x in articles if x["lang"] != "en"} == {}
    a = by_id(articles)
    ferry = a["2026-11-27/harbour-times.txt#0"]
    assert ferry["title"] == "Port Authority Approves New Ferry Terminal for Lake Varn"
    assert ferry["captions"] == [
        "Passengers board the evening ferry at the old Varn pier on November 20, 2026. (AFP)",
        "An architect's drawing of the planned terminal building. (Varn Port Authority)",
    ]
    assert ferry["text"].startswith("The Varn Port Authority on Thursday approved")
    assert ferry["text"].endswith("until the new terminal is complete.")
    assert ferry["text"].count("\n\n") == 5
    assert ferry["source"] == {"file": "harbour-times.txt", "index": 0, "line": 1}
    assert ferry["date"] == SAMPLE_NIGHT and ferry["url"] is None
    assert ferry["fixes"] == {
        "decoding": {},
        "encoding": {"repaired": False, "fixes": []},
        "removed_lines": {
            "caption": 2, "repeated_caption": 6, "widget_marker": 1, "widget_counter": 1, "repeated_headline": 1
        },
    }
    match = a["2026-11-27/harbour-times.txt#2"]["text"]
    assert "\n\n3\n\n1\n\nAttendance:\n\n11482\n\n" in match  # scores are body, not markers
    storm = a["2026-11-27/gazette-wire.txt#0"]  # CR LF and trailing spaces
    assert storm["title"] == "Storm Closes Mountain Pass Roads for Second Day"
    assert storm["captions"] == ["Snow ploughs clear the road near the Brenna pass on Monday. REUTERS/Anna Petrova"]
    assert "\r" not in storm["text"] and " \n" not in storm["text"] and not storm["text"].endswith(" ")
    cafe = a["2026-11-27/mojibake-notice.txt#0"]
    assert cafe["title"] == "Café Owners in São Bento Welcome “Quiet Streets” Plan"
    assert cafe["text"].startswith("Café and restaurant owners in the old town of São Bento")
    assert "the council’s “quiet streets” plan" in cafe["text"]
    assert cafe["fixes"]["encoding"] == {"repaired": True, "fixes": ["encode:sloppy-windows-1252", "decode:utf-8"]}
    opera = a["2026-11-27/legacy-latin1.txt#0"]
    assert "from £12 to £15" in opera["text"] and "café" in opera["text"]
    assert opera["fixes"]["decoding"] == {"legacy_lines": {"windows-1252": [3, 5]}}
    library = a["feed-0001"]
    assert library["meta"] == {"section": "local"}
    assert library["published"] == "2026-11-27T06:10:00Z"
    assert library["url"] == "https://news.example.org/hollin/library-hours"
    assert library["text"].startswith("The public library in Hollin")  # repeated headline gone
    assert a["arch-0001"]["source"] == {"file": "rail-archive.jsonl.gz", "index": 0, "line": 1}


def test_samples_duplicates(sample_night):
    duplicates = sample_night.records("duplicates.jsonl")
    assert [(d["id"], d["dup_of"], d["method"]) for d in duplicates] == [
        ("feed-0002", "2026-11-27/harbour-times.txt#0", "minhash"),
        ("feed-0004", "2026-11-27/harbour-times.txt#1", "exact"),
    ]
    assert duplicates[1]["similarity"] == 1.0
    assert 0.8 <= duplicates[0]["similarity"] < 1.0
    assert duplicates[0]["title"] == "Port Authority Approves New Ferry Terminal for Lake Varn"
    assert {d["dup_of_night"] for d in duplicates} == {SAMPLE_NIGHT}


def test_samples_rejected_and_removed(sample_night):
    rejected = sample_night.records("rejected.jsonl")
    assert [(r["file"], r["line"], r["reason"].split(":")[0]) for r in rejected] == [
        ("scraper-feed.jsonl", 3, "malformed JSON"),
        ("scraper-feed.jsonl", 5, "missing field 'text'"),
    ]
    assert rejected[0]["excerpt"].startswith('{"id": "feed-0003"')
    removed = sample_night.records("removed.jsonl")
    assert Counter(r["rule"] for r in removed) == {
        "caption": 7, "repeated_caption": 19, "repeated_headline": 6, "widget_counter": 4, "widget_marker": 5
    }
    assert removed[0] == {
        "id": "2026-11-27/gazette-wire.txt#0", "file": "gazette-wire.txt", "line": 3, "rule": "caption",
        "text": "Snow ploughs clear the road near the Brenna pass on Monday. REUTERS/Anna Petrova",
    }


def test_samples_report(sample_night):
    report = sample_night.report()
    assert set(report["seconds"]) == {"read", "extract", "repair", "site_lines", "clean", "sign", "dedup", "write"}
    del report["seconds"]
    assert report == {
        "date": SAMPLE_NIGHT,
        "files": 6,
        "articles_in": 11,
        "pages": 0,
        "warc_skipped": {},
        "repaired": 1,
        "encoding_fixes": {"decode:utf-8": 1, "encode:sloppy-windows-1252": 1},
        "lines_removed": {
            "caption": 7, "repeated_caption": 19, "repeated_headline": 6, "widget_counter": 4, "widget_marker": 5
        },
        "rejected_short": 0,
        "duplicates": {"exact": 1, "minhash": 1},
        "articles_out": 9,
        "rejected": 2,
        "rejected_by_stage": {"read": 2},
        "rejected_by_reason": {"malformed JSON": 1, "missing field 'text'": 1},
        "site_lines": {"sites": 5, "sites_with_boilerplate": 0, "boilerplate_lines": 0},
        "dedup": {
            "articles_in": 11, "kept": 9, "of_earlier_nights": 0, "superseded": 0, "history_candidates": 0,
            "threshold": 0.8, "num_perm": 128, "shingle_size": 5, "bands": 21, "rows": 6, "keep": "first",
            "history": "files", "history_since": None,
        },
        "inputs": [
            {"file": "gazette-wire.txt", "bytes": 2983, "xxh3": "4fdcc2aed418af94"}, {"file": "harbour-times.txt", "bytes": 3663, "xxh3": "b5e6597276e4ee6e"},
            {"file": "legacy-latin1.txt", "bytes": 338, "xxh3": "986d7ea9634025b1"}, {"file": "mojibake-notice.txt", "bytes": 683, "xxh3": "720b3c6ab12b450f"},
            {"file": "rail-archive.jsonl.gz", "bytes": 352, "xxh3": "42e6964072737bd2"}, {"file": "scraper-feed.jsonl", "bytes": 3438, "xxh3": "03ba5ab77ef302e8"},
        ],
    }


def test_seed_alone_gives_its_two_articles(night, seed_path, seed_lines):
    night.copy(seed_path)
    assert night.run()
    articles = night.records("articles.jsonl")
    assert [a["title"] for a in articles] == [seed_lines[1], seed_lines[33]]
    assert [a["text"] for a in articles] == [
        "\n\n".join(seed_lines[n] for n in range(13, 30, 2)),
        "\n\n".join(seed_lines[n] for n in range(45, 64, 2)),
    ]
    assert [a["captions"] for a in articles] == [[seed_lines[3]], [seed_lines[35]]]
    for article in articles:
        lines = article["text"].split("\n")
        assert "TT" not in lines and "20" not in lines and article["title"] not in lines
        assert not set(article["captions"]) & set(lines)
    assert night.records("duplicates.jsonl") == [] and night.records("rejected.jsonl") == []


def test_bbc_jsonl_night_drops_one_of_each_identical_pair(night, corpora):
    night.copy(corpora / "bbc" / "articles.jsonl.gz")
    assert night.run()
    pairs = [orjson.loads(line) for line in (corpora / "bbc" / "dup_pairs.jsonl").read_bytes().splitlines()]
    identical = [(p["a"], p["b"]) for p in pairs if p["bytes_equal"]]
    assert len(identical) == 98
    kept = {a["id"] for a in night.records("articles.jsonl")}
    dropped = {d["id"]: d for d in night.records("duplicates.jsonl")}
    for a, b in identical:
        assert (a in kept) != (b in kept)
        gone, survivor = (b, a) if a in kept else (a, b)
        assert dropped[gone]["dup_of"] == survivor
        assert dropped[gone]["similarity"] == 1.0
    assert len(kept) + len(dropped) == 2225


def test_rerun_of_a_finished_night_rewrites_nothing(sample_night):
    before = {p: p.stat().st_mtime_ns for p in sample_night.out.rglob("*") if p.is_file()}
    assert sample_night.run()
    after = {p: p.stat().st_mtime_ns for p in sample_night.out.rglob("*") if p.is_file()}
    assert after == before


def test_a_night_whose_history_commit_was_cut_short_is_not_done_and_its_rerun_commits(sample_night):
    """The outputs and the history commit are written by tasks side by side: outputs
    without the commit are not a finished night, for the CLI and for backfills."""
    import datetime as dt

    from pipeline.tasks import CleanCorpus, CommitHistory

    date = dt.date.fromisoformat(SAMPLE_NIGHT)
    committed = sample_night.state_dir / "history" / SAMPLE_NIGHT
    history = {p.name: p.read_bytes() for p in committed.iterdir()}
    outputs = {p: p.stat().st_mtime_ns for p in sample_night.out.iterdir() if p.is_file()}
    shutil.rmtree(committed)
    (sample_night.out / "stages" / "5-dedup" / "history.stats.json").unlink()
    with sample_night.settings():
        assert not CommitHistory(date=date).complete()
        assert not CleanCorpus(date=date).complete()
        assert CleanCorpus.bulk_complete([date, date - dt.timedelta(days=1)]) == []
    assert sample_night.run()
    assert {p.name: p.read_bytes() for p in committed.iterdir()} == history
    assert {p: p.stat().st_mtime_ns for p in sample_night.out.iterdir() if p.is_file()} == outputs
    with sample_night.settings():
        assert CleanCorpus.bulk_complete([date, date - dt.timedelta(days=1)]) == [date]


def test_a_night_finished_before_the_commit_task_existed_is_done(sample_night):
    """Nights written by the previous version (history committed inside Deduplicate, no
    stages/3-removed/ nor history.stats.json) stay done: a rerun rewrites nothing."""
    import datetime as dt

    from pipeline.tasks import CleanCorpus

    shutil.rmtree(sample_night.out / "stages" / "3-removed")
    (sample_night.out / "stages" / "5-dedup" / "history.stats.json").unlink()
    date = dt.date.fromisoformat(SAMPLE_NIGHT)
    with sample_night.settings():
        assert CleanCorpus(date=date).complete()
        assert CleanCorpus.bulk_complete([date]) == [date]
    before = {p: p.stat().st_mtime_ns for p in sample_night.root.rglob("*") if p.is_file()}
    assert sample_night.run()
    assert {p: p.stat().st_mtime_ns for p in sample_night.root.rglob("*") if p.is_file()} == before


def test_same_input_same_output_byte_for_byte(sample_night, tmp_path):
    other = Night(tmp_path / "again")
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, other.raw, dirs_exist_ok=True)
    assert other.run()
    assert other.output_bytes() == sample_night.output_bytes()


def test_articles_are_the_clean_stage_records_without_internal_fields(sample_night):
    from pipeline.io.jsonl import dumps
    from pipeline.records import Article

    stage_lines = [line for path in sorted((sample_night.out / "stages" / "3-clean").glob("*.articles.jsonl"))
                   for line in path.read_bytes().splitlines(keepends=True)]
    assert len(stage_lines) == 11
    for line in stage_lines:  # the byte rewrite is the parse, to_output, dump round trip
        assert Article.output_line(line) == dumps(Article.from_dict(orjson.loads(line)).to_output())
    kept = {r["id"] for r in sample_night.records("articles.jsonl")}
    assert [Article.output_line(line) for line in stage_lines if orjson.loads(line)["id"] in kept] == (
        (sample_night.out / "articles.jsonl").read_bytes().splitlines(keepends=True))


def test_stage_files_out_of_step_with_the_decisions_fail_the_night_naming_the_file(sample_night, caplog):
    stage = sample_night.out / "stages" / "3-clean"
    shard = sorted(stage.glob("*.articles.jsonl"))[0]
    lines = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(lines[1:] + lines[:1]))  # same articles, another order
    (sample_night.out / "articles.jsonl").unlink()
    assert not sample_night.run()
    assert f"{shard}:1: the article is not the one Deduplicate decided on at position 0" in caplog.text
    assert not (sample_night.out / "articles.jsonl").exists()
    shard.write_bytes(b"".join(lines))
    assert sample_night.run()


def test_no_temporary_files_left_behind(sample_night):
    assert [p for p in sample_night.out.rglob("*") if p.name.endswith(".tmp")] == []


# --- exit codes of the luigi command --------------------------------------------------------


def luigi_cli(tmp: Path, *flags: str) -> int:
    command = [
        sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus", "--local-scheduler",
        "--pipeline-raw-dir", str(tmp / "raw"), "--pipeline-out-dir", str(tmp / "out"),
        "--pipeline-state-dir", str(tmp / "state"), *flags,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=tmp, env=env, capture_output=True).returncode


def test_exit_codes_are_distinct(tmp_path):
    (tmp_path / "raw" / SAMPLE_NIGHT).mkdir(parents=True)
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "harbour-times.txt", tmp_path / "raw" / SAMPLE_NIGHT)
    missing = luigi_cli(tmp_path, "--date", "2026-11-01")
    malformed_date = luigi_cli(tmp_path, "--date", "yesterday")
    bad_setting = luigi_cli(tmp_path, "--date", SAMPLE_NIGHT, "--pipeline-threshold", "80")
    (tmp_path / "blocked").write_text("a file where the output folder should be")
    failed = luigi_cli(tmp_path, "--date", SAMPLE_NIGHT, "--pipeline-out-dir", str(tmp_path / "blocked"))
    ok = luigi_cli(tmp_path, "--date", SAMPLE_NIGHT)
    assert (missing, failed, malformed_date, bad_setting, ok) == (3, 4, 2, 9, 0)


def test_small_files_are_grouped_into_shards(night):
    for i in range(5):
        night.add(f"story-{i}.txt", f"Headline {i}\n\nBody of story number {i}, which the reporter filed "
                                     f"late on Tuesday after a long council meeting about the ferry.\n")
    assert night.run(shard_files=2)
    assert sorted(p.name for p in (night.out / "stages" / "1-read").glob("*.articles.jsonl")) == [
        "shard-00000.articles.jsonl", "shard-00001.articles.jsonl", "shard-00002.articles.jsonl"
    ]
    assert [a["source"]["file"] for a in night.records("articles.jsonl")] == [f"story-{i}.txt" for i in range(5)]


def test_luigi_config_path_overrides_the_project_config(tmp_path):
    (tmp_path / "raw" / SAMPLE_NIGHT).mkdir(parents=True)
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "harbour-times.txt", tmp_path / "raw" / SAMPLE_NIGHT)
    cfg = tmp_path / "override.cfg"
    cfg.write_text(
        f"[pipeline]\nraw_dir = {tmp_path / 'raw'}\nout_dir = {tmp_path / 'elsewhere'}\n"
        f"state_dir = {tmp_path / 'state'}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LUIGI_CONFIG_PATH": str(cfg)}
    command = [sys.executable, "-m", "luigi", "--module", "pipeline.tasks", "CleanCorpus",
               "--local-scheduler", "--date", SAMPLE_NIGHT]
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 0
    assert (tmp_path / "elsewhere" / SAMPLE_NIGHT / "articles.jsonl").is_file()


def stage_records(night: Night, stage: str) -> list[dict]:
    records = []
    for path in sorted((night.out / "stages" / stage).glob("*.articles.jsonl")):
        records.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return records


def test_seed_mojibaked_once_and_twice_comes_out_as_the_seed(night, seed_path):
    import ftfy.bad_codecs  # noqa: F401

    clean = seed_path.read_text(encoding="utf-8")
    once = clean.encode("utf-8").decode("sloppy-windows-1252")
    night.add("a-seed.txt", clean)
    night.add("b-once.txt", once)
    night.add("c-twice.txt", once.encode("utf-8").decode("sloppy-windows-1252"))
    assert night.run()
    cleaned = stage_records(night, "3-clean")
    by_file = {}
    for article in cleaned:
        by_file.setdefault(article["source"]["file"], []).append(
            (article["title"], article["text"], article["captions"])
        )
    assert by_file["b-once.txt"] == by_file["a-seed.txt"] == by_file["c-twice.txt"]
    assert [a["source"]["file"] for a in night.records("articles.jsonl")] == ["a-seed.txt", "a-seed.txt"]
    assert [(d["method"], d["similarity"]) for d in night.records("duplicates.jsonl")] == [("exact", 1.0)] * 4


def test_bbc_raw_night_is_untouched_by_repair(night, corpora):
    shutil.copytree(corpora / "bbc" / "raw", night.raw, dirs_exist_ok=True)
    assert night.run()
    report = night.report()
    # Only the 25 files with numeric HTML entities (caf&#233;) change, by entity decoding.
    assert (report["repaired"], report["encoding_fixes"]) == (25, {"apply:unescape_html": 25})
    texts = {a["source"]["file"]: a for a in stage_records(night, "2-repair")}
    pound = texts["sport/199.txt"]
    assert "£" in pound["text"] and "\ufffd" not in pound["text"]
    assert pound["fixes"]["decoding"]["legacy_lines"] == {"windows-1252": [5]}  # the line with 0xA3
    assert not any("\ufffd" in a["text"] for a in texts.values())
