"""Things that change around the pipeline rather than break it: raw files edited before a
resume or after a night ran, hostile file names and pages. Each case gives the bytes of
the one-by-one run or stops loudly, and is made the way a user meets it: real files, a
real kill -9, the `luigi` and `python -m pipeline` commands."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from bench.synthetic import TextGenerator
from tests.test_integrity import NIGHTS, OUTPUTS, env, night_cli, pipeline_cli, write_nights


def cli_in(root: Path, out: Path, state: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m pipeline ARGS`` with the output and state folders given."""
    folders = ["--pipeline-raw-dir", str(root / "raw"), "--pipeline-out-dir", str(out), "--pipeline-state-dir",
               str(state)]
    return subprocess.run([sys.executable, "-m", "pipeline", *args, *folders], cwd=root, env=env(),
                          capture_output=True, text=True)


def feed(seed: int, count: int, prefix: str) -> bytes:
    generator = TextGenerator(seed=seed)
    records = []
    for i in range(count):
        title, text = generator.article(words=120)
        records.append({"id": f"{prefix}{i}", "title": title, "text": text})
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def last_night_in_files(raw: Path) -> None:
    """The last night as four feeds (four shards with --pipeline-shard-files 1)."""
    folder = raw / NIGHTS[3]
    for k in range(4):
        (folder / f"feed{k}.jsonl").write_bytes(feed(100 + k, 60, f"f{k}-"))


def outputs_of(root: Path, night: str) -> dict[str, bytes]:
    return {name: (root / "out" / night / name).read_bytes() for name in OUTPUTS}


SHARDS = ("--pipeline-shard-files", "1")


def test_a_resume_after_a_raw_file_was_rewritten_reads_the_new_file(tmp_path):
    """Killed (SIGKILL) once the first shard is repaired, the raw feed rewritten with other
    records, the night run again: the outputs are those of a night run on the new files."""
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    for root in (reference, resumed):
        write_nights(root / "raw")
        last_night_in_files(root / "raw")
        for night in NIGHTS[:3]:
            assert night_cli(root, night, *SHARDS).returncode == 0
    rewritten = feed(7, 15, "new-")
    (reference / "raw" / NIGHTS[3] / "feed0.jsonl").write_bytes(rewritten)
    assert night_cli(reference, NIGHTS[3], *SHARDS).returncode == 0

    process = night_cli(resumed, NIGHTS[3], *SHARDS, popen=True)
    marker = resumed / "out" / NIGHTS[3] / "stages" / "2-repair" / "shard-00000.stats.json"
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert marker.exists() and not (resumed / "out" / NIGHTS[3] / "report.json").exists()
    (resumed / "raw" / NIGHTS[3] / "feed0.jsonl").write_bytes(rewritten)
    again = night_cli(resumed, NIGHTS[3], *SHARDS)
    assert again.returncode == 0, again.stderr[-3000:]
    assert outputs_of(resumed, NIGHTS[3]) == outputs_of(reference, NIGHTS[3])
    assert b'"id":"new-0"' in outputs_of(resumed, NIGHTS[3])["articles.jsonl"]


def test_a_same_size_edit_of_a_finished_nights_raw_file_is_late(tmp_path):
    root = tmp_path / "late"
    write_nights(root / "raw", NIGHTS[:1])
    assert night_cli(root, NIGHTS[0]).returncode == 0
    raw = root / "raw" / NIGHTS[0] / "feed.jsonl"
    before = raw.stat()
    data = bytearray(raw.read_bytes())
    data[data.index(b"the")] = ord("T")  # one letter, same size, same times
    raw.write_bytes(bytes(data))
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    late = pipeline_cli(root, "late", NIGHTS[0])
    assert late.returncode == 1
    assert late.stdout.startswith("late: feed.jsonl (changed since the night read it;")
    assert night_cli(root, NIGHTS[0]).returncode == 0  # a finished night is not redone by itself
    (root / "raw" / NIGHTS[0] / "extra.jsonl").write_bytes(feed(3, 2, "x"))
    raw.unlink()
    listed = pipeline_cli(root, "late", NIGHTS[0]).stdout.splitlines()
    assert [line.split(" (")[0] for line in listed] == ["late: extra.jsonl", "late: feed.jsonl"]
    assert "new since the night ran" in listed[0] and "gone since the night read it" in listed[1]


def test_late_on_a_night_without_a_raw_folder_says_so(tmp_path):
    late = pipeline_cli(tmp_path, "late", "2020-01-01")
    assert late.returncode == 3
    assert f"{tmp_path / 'raw' / '2020-01-01'}" in late.stderr


# --- hostile file names ----------------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_rejected_and_the_night_completes(tmp_path):
    root = tmp_path / "names"
    write_nights(root / "raw", NIGHTS[:1])
    folder = os.fsencode(root / "raw" / NIGHTS[0])
    with open(folder + b"/caf\xe9-\xff.jsonl", "wb") as handle:
        handle.write(feed(5, 2, "odd"))
    with open(folder + b"/bell\x07\x1b]0;owned\x07.jsonl", "wb") as handle:
        handle.write(feed(6, 2, "bell"))
    result = night_cli(root, NIGHTS[0])
    assert result.returncode == 0, result.stderr[-3000:]
    rejected = [orjson.loads(line) for line in (root / "out" / NIGHTS[0] / "rejected.jsonl").read_bytes().splitlines()]
    assert {"file": "caf\\xe9-\\xff.jsonl", "reason": "file name is not UTF-8, not read (rename the file)",
            "stage": "list", "line": None, "offset": None, "id": None, "excerpt": ""} in rejected
    articles = (root / "out" / NIGHTS[0] / "articles.jsonl").read_bytes()
    assert b'"id":"bell0"' in articles  # a name with control characters is read ...
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr  # ... and never printed raw
    assert "bell\\x07\\x1b]0;owned\\x07.jsonl" in result.stderr
    (root / "raw" / NIGHTS[0] / "bell\x07\x1b]0;owned\x07.jsonl").write_bytes(feed(6, 3, "bell"))
    late = pipeline_cli(root, "late", NIGHTS[0])
    assert late.returncode == 1 and "\x1b" not in late.stdout and "bell\\x07" in late.stdout


# --- full disks, and reruns that keep what they say they keep --------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real small filesystem (a 3 MB tmpfs), where the machine allows mounting one."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill a filesystem with one file, to its last byte or but ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def test_a_failed_rerun_retried_keeps_the_original_outputs(tmp_path, small_disk):
    root = tmp_path / "rerun"
    write_nights(root / "raw", NIGHTS[:1])
    out, state = small_disk / "out", root / "state"
    assert cli_in(root, out, state, "night", NIGHTS[0]).returncode == 0
    original = {name: (out / NIGHTS[0] / name).read_bytes() for name in OUTPUTS}
    filler = fill(small_disk)
    for _ in range(2):  # failed, and failed again
        failed = cli_in(root, out, state, "rerun", NIGHTS[0])
        assert failed.returncode == 4
        assert f"previous outputs kept in {out / ('.' + NIGHTS[0] + '.previous')}" in failed.stdout
        assert error_lines(failed.stderr) == [f"cannot write {out / NIGHTS[0]}/stages/1-read/shard-00000.articles.jsonl"]
        assert leftovers(out) == []
    filler.unlink()
    done = cli_in(root, out, state, "rerun", NIGHTS[0])
    assert done.returncode == 0, done.stderr[-3000:]
    previous = out / f".{NIGHTS[0]}.previous"
    assert {name: (previous / name).read_bytes() for name in OUTPUTS} == original
    assert {name: (out / NIGHTS[0] / name).read_bytes() for name in OUTPUTS} == original


def error_lines(stderr: str) -> list[str]:
    """The failures' last lines (what a traceback ends with), each without its errno."""
    return [line.split("] ", 1)[1].removesuffix(": No space left on device")
            for line in stderr.splitlines() if line.startswith("pipeline.io.jsonl.OutputError:")]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_state_dir_fails_the_night_naming_the_path(tmp_path, small_disk, workers):
    """The command's last line says which task failed and the file it could not write,
    whether the task ran in the command's process or in one Luigi forked for it."""
    root = tmp_path / "state-full"
    write_nights(root / "raw", NIGHTS[:2])
    state = small_disk / "state"
    assert cli_in(root, root / "out", state, "night", NIGHTS[0]).returncode == 0
    fill(small_disk)
    failed = cli_in(root, root / "out", state, "night", NIGHTS[1], "--workers", workers)
    assert failed.returncode == 4
    assert error_lines(failed.stderr) == [f"cannot write {state}/site_lines/{NIGHTS[1]}.json"]
    assert failed.stderr.splitlines()[-1] == (
        f"newsclean: error: night {NIGHTS[1]}: CountSiteLines(date={NIGHTS[1]}) failed: [Errno 28] cannot write "
        f"{state}/site_lines/{NIGHTS[1]}.json: No space left on device")
    assert leftovers(state) == [] and leftovers(root / "out") == []


@pytest.mark.parametrize("free_kb", [0, 40, 100, 140])
def test_a_night_failing_on_a_full_disk_at_any_point_leaves_no_temporary_files(tmp_path, small_disk, free_kb):
    """The disk fills up at some step of the night (reading, cleaning, signing, dedup,
    the outputs): the night fails (exit 4) naming the file it could not write, and
    leaves none of its temporary files; with the space back, it completes as if nothing
    had happened."""
    root = tmp_path / "full"
    write_nights(root / "raw", NIGHTS[:1])
    out = small_disk / "out"
    filler = fill(small_disk, leave=free_kb * 1024)
    failed = cli_in(root, out, root / "state", "night", NIGHTS[0])
    assert failed.returncode == 4, failed.stderr[-2000:]
    named = error_lines(failed.stderr)
    assert named and all(line.startswith(f"cannot write {out}/") for line in named), failed.stderr[-2000:]
    last = failed.stderr.splitlines()[-1]
    assert last.startswith(f"newsclean: error: night {NIGHTS[0]}: ") and f"cannot write {out}/" in last
    assert leftovers(out) == [] and leftovers(root / "state") == []
    filler.unlink()
    assert cli_in(root, out, root / "state", "night", NIGHTS[0]).returncode == 0


# --- hostile pages -----------------------------------------------------------------------------


def test_only_web_charset_labels_mean_anything_and_no_label_sinks_the_night(night):
    from tests.test_pages import FERRY, article_page

    for k, label in enumerate(("punycode", "rot13", "base64", "cp037", "utf-7", "x-no-such")):
        title, text = TextGenerator(seed=k).article(words=120)
        paragraphs = [*text.split("\n\n"), f"This page declared {label} as its charset, which no browser reads."]
        night.add(f"{label}.html", article_page(title, paragraphs, head=f"<meta charset='{label}'>").encode("utf-8"))
    # UTF-7 as a browser does not read it: '+ADw-script+AD4-' stays text, not a <script>.
    night.add("seven.html", article_page("Seven", [*FERRY[:2], "The notice said +ADw-script+AD4- in the "
                                                   "middle of the sentence, and readers wrote in about it."],
                                         head="<meta charset='utf-7'>").encode("utf-8"))
    assert night.run()
    articles = {a["source"]["file"]: a for a in night.records("articles.jsonl")}
    decoding = {name: a["fixes"]["decoding"] for name, a in articles.items()}
    assert decoding == {f"{label}.html": {"charset": "utf-8", "charset_from": "utf-8", "charset_declared": label}
                        for label in ("punycode", "rot13", "base64", "cp037", "utf-7", "x-no-such")
                        } | {"seven.html": {"charset": "utf-8", "charset_from": "utf-8", "charset_declared": "utf-7"}}
    assert "This page declared cp037 as its charset" in articles["cp037.html"]["text"]
    assert "+ADw-script+AD4- in the middle of the sentence" in articles["seven.html"]["text"]


def test_an_xhtml_page_in_a_jsonl_record_is_read(night):
    from tests.test_pages import FERRY

    body = "".join(f"<p>{p}</p>" for p in FERRY)
    xhtml = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
             '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">'
             f"<head><title>Ferry</title></head><body><article><h1>Ferry</h1>{body}</article></body></html>")
    night.add("feed.jsonl", orjson.dumps({"id": "x1", "url": "https://example.org/ferry", "html": xhtml}) + b"\n")
    assert night.run()
    (article,) = night.records("articles.jsonl")
    assert article["id"] == "x1" and article["text"].split("\n\n") == FERRY
    assert night.records("rejected.jsonl") == []


def blocks_page(blocks: int) -> bytes:
    """A page of many small blocks: trafilatura's time grows faster than their number."""
    return (b"<html><head><title>Blocks</title></head><body>"
            + b"".join(b"<div><p>Block %d of the page, a short line of words.</p></div>" % k for k in range(blocks))
            + b"</body></html>")


@pytest.mark.parametrize("budget, reason", [
    ({"page_seconds": 3, "page_memory_mb": 0}, "page over its budget: took more than 3 s to extract (page_seconds)"),
    ({"page_seconds": 0, "page_memory_mb": 40},
     "page over its budget: needed more than 40 MB to extract (page_memory_mb)"),
])
def test_a_page_over_its_budget_is_rejected_and_the_night_goes_on(night, budget, reason):
    from tests.test_pages import FERRY, article_page

    night.add("huge.html", blocks_page(300_000))
    night.add("ferry.html", article_page("Ferry", FERRY).encode("utf-8"))
    assert night.run(**budget)
    assert [a["source"]["file"] for a in night.records("articles.jsonl")] == ["ferry.html"]
    (rejected,) = night.records("rejected.jsonl")
    assert (rejected["file"], rejected["reason"], rejected["excerpt"][:25]) == ("huge.html", reason,
                                                                                "<html><head><title>Blocks")


# --- the history's own record: lost, restored from an old backup, edited -------------------------

SITE_LINE = "Harbour Times reporters on the quay contributed to this report."


def write_site_nights(raw: Path) -> None:
    """Four nights of a site that prints one line on every page, three pages a night: the
    line is the site's boilerplate only when the earlier nights' counts are added (a site
    needs 5 pages), so a night that lost them keeps it."""
    generator = TextGenerator(seed=31)
    for k, night in enumerate(NIGHTS):
        records = []
        for i in range(3):
            title, text = generator.article(words=140)
            records.append({"id": f"h{k}-{i}", "url": f"https://harbour.example/{k}/{i}", "title": title,
                            "text": text + "\n\n" + SITE_LINE})
        (raw / night).mkdir(parents=True, exist_ok=True)
        (raw / night / "harbour.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


@pytest.fixture(scope="module")
def site_nights(tmp_path_factory) -> tuple[Path, Path]:
    """The four nights run one by one (the reference), and the first three alone."""
    reference, three = tmp_path_factory.mktemp("site-reference"), tmp_path_factory.mktemp("site-three")
    for root, nights in ((reference, NIGHTS), (three, NIGHTS[:3])):
        write_site_nights(root / "raw")
        for night in nights:
            assert night_cli(root, night).returncode == 0
    last = (reference / "out" / NIGHTS[3] / "articles.jsonl").read_text()
    assert SITE_LINE not in last  # the reference cleans it, counting the earlier nights
    return reference, three


def manifest(root: Path) -> dict:
    return orjson.loads((root / "state" / "history" / "MANIFEST.json").read_bytes())


def _lose_state(root: Path) -> str:
    shutil.rmtree(root / "state")
    return f"night {NIGHTS[0]} is not in the history"


def _restore_old_backup(root: Path) -> str:
    """The state as it was after the first night (a backup), the later nights' gone."""
    history = root / "state" / "history"
    for night in NIGHTS[1:3]:
        shutil.rmtree(history / night)
        (root / "state" / "site_lines" / f"{night}.json").unlink()
    data = manifest(root)
    data["nights"] = {NIGHTS[0]: data["nights"][NIGHTS[0]]}
    (history / "MANIFEST.json").write_bytes(orjson.dumps(data))
    return f"night {NIGHTS[1]} is not in the history"


def _delete_manifest(root: Path) -> str:
    (root / "state" / "history" / "MANIFEST.json").unlink()
    return "MANIFEST.json: missing, but 3 night folder(s) are there"


def _edit_a_count(root: Path) -> str:
    data = manifest(root)
    entry = data["nights"][NIGHTS[1]]
    entry["articles"] -= 1
    (root / "state" / "history" / "MANIFEST.json").write_bytes(orjson.dumps(data))
    return f"night {NIGHTS[1]}: its entry differs from what was committed"


CHANGES = {"state folder lost": _lose_state, "restored from an older backup": _restore_old_backup,
           "manifest deleted": _delete_manifest, "a night's article count edited": _edit_a_count}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_history_changed_behind_the_pipeline_stops_the_night_and_rebuild_gives_back_everything(
        change, site_nights, tmp_path):
    reference, three = site_nights
    root = tmp_path / "changed"
    shutil.copytree(three, root)
    said = CHANGES[change](root)
    stopped = night_cli(root, NIGHTS[3])
    assert stopped.returncode == 11 and said in stopped.stderr, stopped.stderr[-2000:]
    verify = pipeline_cli(root, "history", "verify")
    assert verify.returncode == 11 and said in verify.stdout + verify.stderr
    rebuild = pipeline_cli(root, "history", "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr[-2000:]
    assert pipeline_cli(root, "history", "verify").stdout.endswith(": sound\n")
    # Everything verify checks is back: the site-line counts and what each night compared with.
    rebuilt = manifest(root)["nights"]
    assert {n: (e["site_lines"], e["compared_with"], e["articles"]) for n, e in rebuilt.items()} == {
        n: (e["site_lines"], e["compared_with"], e["articles"]) for n, e in manifest(three)["nights"].items()}
    assert night_cli(root, NIGHTS[3]).returncode == 0
    assert outputs_of(root, NIGHTS[3]) == outputs_of(reference, NIGHTS[3])


def test_verify_finds_a_finished_night_the_history_does_not_list(site_nights, tmp_path):
    _, three = site_nights
    root = tmp_path / "unlisted"
    shutil.copytree(three, root)
    data = manifest(root)
    del data["nights"][NIGHTS[2]]
    (root / "state" / "history" / "MANIFEST.json").write_bytes(orjson.dumps(data))
    shutil.rmtree(root / "state" / "history" / NIGHTS[2])
    verify = pipeline_cli(root, "history", "verify")
    assert verify.returncode == 11
    assert f"night {NIGHTS[2]} is not in the history" in verify.stdout
    assert f"but it is finished in {root / 'out'}" in verify.stdout


# --- a Redis that loses keys ---------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own (its settings change), on a free loopback port."""
    import redis

    from tests.conftest import private_redis

    with private_redis(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0", redis.Redis(port=port)


@pytest.fixture(scope="module")
def redis_sequence(tmp_path_factory):
    """The reference: the four nights of the integrity tests run one by one, in order."""
    root = tmp_path_factory.mktemp("redis-sequence")
    write_nights(root / "raw")
    for night in NIGHTS:
        assert night_cli(root, night).returncode == 0
    return root


def test_a_redis_that_may_evict_keys_is_refused(own_redis, tmp_path):
    url, client = own_redis
    client.config_set("maxmemory", "6mb")
    client.config_set("maxmemory-policy", "allkeys-lru")
    root = tmp_path / "lru"
    write_nights(root / "raw", NIGHTS[:1])
    refused = night_cli(root, NIGHTS[0], "--pipeline-index-url", url)
    assert refused.returncode == 9
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("newsclean: error:")]
    assert line == (f"newsclean: error: [pipeline] index_url = {url}: the Redis there cannot hold the index: its "
                    "maxmemory-policy is allkeys-lru, which drops keys when memory runs short: set maxmemory-policy "
                    "noeviction (redis.conf, or CONFIG SET), and give it the memory the index needs")
    assert not (root / "out" / NIGHTS[0] / "stages" / "1-read").exists()


def _evict(client) -> None:
    """Memory runs short under an evicting policy: Redis drops keys of the index to make
    room for another application's, then the policy is set right again."""
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", str(client.info("memory")["used_memory"] + 200_000))
    for k in range(3000):
        client.set(f"other-application:{k}", b"x" * 400)
    assert client.info("stats")["evicted_keys"] > 0
    client.config_set("maxmemory", "0")
    client.config_set("maxmemory-policy", "noeviction")


def _delete_a_nights_keys(client) -> None:
    """The first night's band and exact keys deleted by hand."""
    for key in client.scan_iter(match="newsclean:*", count=10000):
        if key.split(b":")[-2] in (b"band", b"exact"):
            members = client.smembers(key)
            if any(m.startswith(NIGHTS[0].encode()) for m in members):
                client.delete(key)


@pytest.mark.parametrize("lose", [_evict, _delete_a_nights_keys], ids=["keys evicted", "a night's keys deleted"])
def test_a_redis_index_that_lost_keys_stops_the_night_and_rebuild_refills_it(own_redis, redis_sequence, tmp_path,
                                                                             lose):
    url, client = own_redis
    root = tmp_path / "redis"
    write_nights(root / "raw")
    with_redis = ("--pipeline-index-url", url)
    for night in NIGHTS[:3]:
        assert night_cli(root, night, *with_redis).returncode == 0
    lose(client)
    stopped = night_cli(root, NIGHTS[3], *with_redis)
    assert stopped.returncode == 11, stopped.stderr[-2000:]
    # Evicted keys are found by the count of evictions, or (when the LRU took the index's
    # own record too) by the nights missing; deleted ones by the entries looked for.
    said = ((f"the Redis index {url}: its server evicted ", f"the Redis index {url} lacks it (night {NIGHTS[0]}")
            if lose is _evict else (f"the Redis index {url} lacks ",))
    assert any(s in stopped.stderr for s in said), stopped.stderr[-2000:]
    verify = pipeline_cli(root, "history", "verify", *with_redis)
    assert verify.returncode == 11 and any(s in verify.stdout for s in said)
    if lose is _delete_a_nights_keys:
        assert f" entries of night {NIGHTS[0]} looked for (keys evicted or deleted)" in verify.stdout
    rebuild = pipeline_cli(root, "history", "rebuild", *with_redis)
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr[-2000:]
    assert pipeline_cli(root, "history", "verify", *with_redis).stdout.endswith(": sound\n")
    assert night_cli(root, NIGHTS[3], *with_redis).returncode == 0
    assert outputs_of(root, NIGHTS[3]) == outputs_of(redis_sequence, NIGHTS[3])
