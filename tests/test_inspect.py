"""Inspecting a night: the command-line inspector and report.html (rendered in Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import orjson
import pytest

from tests.conftest import ROOT, SAMPLE_NIGHT, SAMPLES, Night

EARLIER = "2026-11-26"


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Two nights: the day before holds one dump, then the samples night."""
    root = tmp_path_factory.mktemp("inspect")
    night = Night(root, EARLIER)
    shutil.copy(SAMPLES / SAMPLE_NIGHT / "harbour-times.txt", night.raw_dir / EARLIER / "harbour-times.txt")
    assert night.run()
    night.date = SAMPLE_NIGHT
    shutil.copytree(SAMPLES / SAMPLE_NIGHT, night.raw_dir / SAMPLE_NIGHT)
    assert night.run()
    return night


def inspect(night: Night, *args: str, tty: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline", "inspect", str(night.out_dir / SAMPLE_NIGHT), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def inspect_json(night: Night, *args: str):
    result = inspect(night, *args, "--json")
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_overview_with_trend(nights):
    data = inspect_json(nights)
    assert [t["date"] for t in data["trend"]] == [EARLIER, SAMPLE_NIGHT]
    assert data["night"] == {
        "date": SAMPLE_NIGHT, "files": 6, "articles_in": 11, "articles_out": 6, "repaired": 1, "rejected": 2,
        "rejected_by_reason": {"malformed JSON": 1, "missing field 'text'": 1},
        "duplicates": {"exact": 4, "minhash": 1}, "duplicate_rate": 0.4545,
        "lines_removed": {"caption": 7, "repeated_caption": 19, "repeated_headline": 6, "widget_counter": 4,
                          "widget_marker": 5},
    }
    assert data["trend"][0]["articles_out"] == 3
    assert data["top_removed"]["widget_marker"] == [{"text": "TT", "count": 5}]
    text = inspect(nights).stdout
    assert re.search(r"articles out\s+3\s+6", text)
    assert re.search(r"duplicate rate\s+0\.0%\s+45\.5%", text)
    assert "\x1b[" not in text  # no colour when not on a terminal


def test_colour_only_when_asked_or_on_a_terminal(nights):
    assert "\x1b[1m" in inspect(nights, "--color", "always").stdout


def test_show_an_article(nights):
    data = inspect_json(nights, "show", f"{SAMPLE_NIGHT}/mojibake-notice.txt#0")
    assert data["status"] == {"status": "kept"}
    assert data["article"]["fixes"]["encoding"] == {"repaired": True, "fixes": ["encode:sloppy-windows-1252", "decode:utf-8"]}
    text = inspect(nights, "show", f"{SAMPLE_NIGHT}/harbour-times.txt#2").stdout
    assert "source:   harbour-times.txt, line 47, article #2 of the file" in text
    assert re.search(r"line 50\s+widget_marker\s+TT", text)
    assert "Varn United Beat Kessel 3-1 in Cup Replay" in text


def test_why_a_duplicate_shows_the_kept_article_from_an_earlier_night(nights):
    data = inspect_json(nights, "why", f"{SAMPLE_NIGHT}/harbour-times.txt#0")
    assert data["status"]["status"] == "duplicate"
    assert (data["status"]["dup_of"], data["status"]["dup_of_night"]) == (f"{EARLIER}/harbour-times.txt#0", EARLIER)
    assert data["kept"]["date"] == EARLIER and data["status"]["similarity"] == 1.0
    assert [op for op, _, _ in data["diff"]] == ["equal"]


def test_why_a_near_duplicate_has_a_word_diff(nights):
    data = inspect_json(nights, "why", "feed-0002")
    assert data["status"]["method"] == "minhash"
    changes = [run for run in data["diff"] if run[0] != "equal"]
    assert changes == [["delete", "Updated at 09:45 with the start date of construction: the authority later "
                                  "said the first contracts will be signed in February.", ""]]
    text = inspect(nights, "why", "feed-0002").stdout
    assert "this article" in text and "kept article" in text and "[-Updated at 09:45" in text


def test_why_a_rejected_input(nights):
    text = inspect(nights, "why", "feed-0005").stdout
    assert "file scraper-feed.jsonl, line 5: missing field 'text'" in text
    text = inspect(nights, "why", "scraper-feed.jsonl:3").stdout
    assert "malformed JSON" in text and '"feed-0003"' in text
    missing = inspect(nights, "why", "no-such-id")
    assert missing.returncode == 2 and "no article or rejected input 'no-such-id'" in missing.stderr


def test_grep_the_clean_text(nights):
    hits = inspect_json(nights, "grep", r"£\d+")
    assert [(h["id"], h["field"], h["line"], h["text"][h["start"]:h["end"]]) for h in hits] == [
        (f"{SAMPLE_NIGHT}/legacy-latin1.txt#0", "text", 1, "£12")
    ]
    assert [h["id"] for h in inspect_json(nights, "grep", "-i", "OPERA HOUSE")] == [
        f"{SAMPLE_NIGHT}/legacy-latin1.txt#0", f"{SAMPLE_NIGHT}/legacy-latin1.txt#0"
    ]  # the title and the first paragraph
    assert "harbour" not in inspect(nights, "grep", "Ferry Terminal").stdout  # dropped duplicates are not searched
    assert inspect(nights, "grep", "no such phrase anywhere").returncode == 1


# --- report.html ----------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed and CI=true")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def test_report_html_is_self_contained(nights):
    html = (nights.out_dir / SAMPLE_NIGHT / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", html, re.IGNORECASE)


@pytest.mark.parametrize("earlier_night", [True, False], ids=["kept-in-earlier-night", "kept-tonight"])
def test_report_html_is_the_page_rendered_from_the_files(nights, tmp_path, earlier_night):
    """The final write hands the page the articles it picked up on the way (dropped ones,
    and kept ones when the group's article is tonight's); the page must be the one
    rendered from the night's files alone."""
    from pipeline.report import html as htmlreport
    from pipeline.report import nightdata

    if earlier_night:
        folder = nights.out_dir / SAMPLE_NIGHT
    else:
        alone = Night(tmp_path, SAMPLE_NIGHT)
        shutil.copytree(SAMPLES / SAMPLE_NIGHT, alone.raw_dir / SAMPLE_NIGHT, dirs_exist_ok=True)
        assert alone.run()
        folder = alone.out_dir / SAMPLE_NIGHT
    night = nightdata.Night(folder)
    assert {d["dup_of_night"] for d in night.duplicates} == {EARLIER if earlier_night else SAMPLE_NIGHT}
    page = htmlreport.render(night)
    assert "<del>" in page  # the groups' articles were found and diffed
    assert (folder / "report.html").read_text(encoding="utf-8") == page


def test_report_html_rendered_in_chromium_shows_the_night(nights, tmp_path):
    page = nights.out_dir / SAMPLE_NIGHT / "report.html"
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    text = re.sub(r"<[^>]+>", " ", dom)
    text = " ".join(text.split())
    assert "Night 2026-11-27" in text
    assert "6 raw files → 11 articles in, 6 clean unique articles out" in text
    for figure in ("11 articles in", "6 articles out", "5 duplicates", "45.5% duplicate rate", "1 encoding repaired",
                   "2 rejected"):
        assert figure in text
    assert dom.count("<svg") == 3 and dom.count("<circle") >= 2 + 2 + 2 * 5
    assert "in (11)" in text and "out (6)" in text
    assert "Largest duplicate groups" in text and "feed-0002" in text and "<del>Updated at 09:45" in dom
    assert "missing field 'text'" in text and "scraper-feed.jsonl:3" in text
    assert "widget_marker 5 5× TT" in text
    shot = tmp_path / "report.png"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                    "--window-size=1200,2000", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000
