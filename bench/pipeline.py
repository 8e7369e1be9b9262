"""End-to-end throughput of the nightly chain, against the pipeline a user writes by hand.

    python -m bench.pipeline                         # 20,000 articles (about 60 MB), one worker
    python -m bench.pipeline --articles 5000 --workers 2
    python -m bench.pipeline --workers 1 2           # both, in turn; prints the ratio
    python -m bench.pipeline --articles 100000 --repeat 1 --no-hand   # the memory check
    python -m bench.pipeline --side-by-side 2 --no-hand   # what 2 workers can give at most here
    python -m bench.pipeline --pages 1000 --workers 1 2   # a night of HTML pages and WARC files

Generates a deterministic synthetic night from the BBC corpus (../shared/corpora/bbc,
else the samples): new articles made of paragraphs of real ones, in seed-layout .txt
dumps (widget markers, captions printed twice) and JSONL scraper files, some with
mojibake, with planted exact and near duplicates. Runs the full Luigi chain on it in a
fresh process (three times; the median run is reported) and prints articles/s, MB/s,
peak memory, seconds per stage, and the duplicate recall and precision against what
was planted. After each run of the night it runs the hand-written pipeline
(ftfy.fix_text on every text, datasketch MinHash.update() per shingle with the default
hash, MinHashLSH query + insert) on a slice of the same articles, and the same written
as datasketch's documentation suggests (MinHash.bulk with an xxhash function), and
prints the ratio of the medians to each. It also prints how busy the workers were: the
seconds before the first task, and the seconds during which 0, 1, 2 ... tasks were
running.

``--pages N`` makes a night of N HTML pages instead: the 181 real pages of
scrapinghub_aeb (../shared/corpora/boilerplate/html, else the sample pages) as templates,
each copy's paragraphs replaced by paragraphs of BBC articles, so that every page is an
article of its own in a real site's markup. Half are ``.html.gz`` files (one page a
file), half are responses in ``.warc.gz`` files of 100 pages (with their request records,
as crawlers write them). It prints pages/s, MB/s of HTML, and extraction's share of the
stages' seconds; the hand-written pipeline for pages is trafilatura.extract with its
defaults, then the same repair and dedup by hand.

``--side-by-side N`` measures the machine instead: N one-worker nights run at the same
time, each on its own folders, against one run alone. Processes on one machine share
its caches and memory bandwidth (and on a virtual machine, its host), so each of the N
takes longer than it does alone; N workers cannot beat N x (alone / side by side)
whatever the pipeline does. Results go to bench/results/pipeline-N-wW-pP.json (and
pipeline-N-side-by-side-K.json).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from bench.common import CORPORA, RESULTS, ROOT, machine, save

NIGHT = "2026-11-27"
ARTICLES_PER_FILE = 500
EXACT_SHARE = 0.03  # planted exact copies (after normalisation: different spacing/case)
NEAR_SHARE = 0.05  # planted near copies (one paragraph edited, a sentence added)
MOJIBAKE_SHARE = 0.02
HAND_SLICE = 400


def source_paragraphs() -> list[list[str]]:
    """Paragraph lists of real articles."""
    path = CORPORA / "bbc" / "articles.jsonl.gz"
    texts: list[str] = []
    if path.exists():
        with gzip.open(path) as handle:
            texts = [orjson.loads(line)["text"] for line in handle]
    else:
        for sample in sorted((ROOT / "samples").rglob("*.txt")):
            texts.append(sample.read_text(encoding="utf-8", errors="replace"))
    out = []
    for text in texts:
        paragraphs = [p.strip() for p in text.split("\n\n") if len(p.split()) >= 8]
        if len(paragraphs) >= 3:
            out.append(paragraphs)
    return out


def generate(raw: Path, count: int, seed: int = 7, jsonl_files: int | None = None) -> dict:
    """Write the synthetic night; returns the planted duplicate pairs (copy id -> original id).
    Dumps and JSONL files of 500 articles by turns, or (``jsonl_files``) that many JSONL
    files only, the layout every peer reads."""
    import ftfy.bad_codecs  # noqa: F401

    rng = np.random.default_rng(seed)
    pools = source_paragraphs()
    night = raw / NIGHT
    shutil.rmtree(night, ignore_errors=True)
    night.mkdir(parents=True)
    articles: list[dict] = []
    planted: dict[str, str] = {}
    for i in range(count):
        article_id = f"syn-{i:06d}"
        roll = rng.random()
        if i > 50 and roll < EXACT_SHARE:
            original = articles[int(rng.integers(0, len(articles)))]
            text = "  ".join(original["text"].upper().split(" "))  # same words, other case and spacing
            planted[article_id] = original["id"]
            articles.append({"id": article_id, "title": original["title"], "text": text, "captions": original["captions"]})
            continue
        if i > 50 and roll < EXACT_SHARE + NEAR_SHARE:
            original = articles[int(rng.integers(0, len(articles)))]
            paragraphs = original["text"].split("\n\n")
            k = int(rng.integers(0, len(paragraphs)))
            words = paragraphs[k].split()
            words[int(rng.integers(0, len(words)))] = "reportedly"
            paragraphs[k] = " ".join(words)
            paragraphs.append("The report was updated later in the day with comments from officials.")
            planted[article_id] = original["id"]
            articles.append({"id": article_id, "title": original["title"] + " (updated)",
                             "text": "\n\n".join(paragraphs), "captions": original["captions"]})
            continue
        picked = [pools[int(j)] for j in rng.integers(0, len(pools), size=3)]
        paragraphs = [p for source in picked for p in source[: int(rng.integers(2, 4))]]
        text = "\n\n".join(paragraphs[:8])
        title = " ".join(picked[0][0].split()[:9]).rstrip(".,") + f" ({i})"
        captions = [f"A scene from the story, photographed on day {i % 28 + 1}. (AFP)"] if rng.random() < 0.7 else []
        if rng.random() < MOJIBAKE_SHARE:
            text = text.encode("utf-8").decode("sloppy-windows-1252")  # mojibake (UTF-8 read as Windows-1252)
        articles.append({"id": article_id, "title": title, "text": text, "captions": captions})
    if jsonl_files:
        per_file = -(-count // jsonl_files)
        for number, start in enumerate(range(0, count, per_file)):
            lines = [orjson.dumps({"id": a["id"], "title": a["title"], "text": a["text"],
                                   "url": f"https://news{number % 5}.example.org/{a['id']}"})
                     for a in articles[start : start + per_file]]
            (night / f"feed-{number:04d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        return {"planted": planted, "megabytes": sum(p.stat().st_size for p in night.iterdir()) / 1e6}
    output_id: dict[str, str] = {}  # synthetic id -> the id the pipeline gives the article
    for start in range(0, count, ARTICLES_PER_FILE):
        chunk = articles[start : start + ARTICLES_PER_FILE]
        number = start // ARTICLES_PER_FILE
        for k, a in enumerate(chunk):
            output_id[a["id"]] = a["id"] if number % 2 else f"{NIGHT}/dump-{number:04d}.txt#{k}"
        if number % 2:
            lines = [orjson.dumps({"id": a["id"], "title": a["title"], "text": a["text"],
                                   "url": f"https://news{number % 5}.example.org/{a['id']}"}) for a in chunk]
            (night / f"feed-{number:04d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        else:
            (night / f"dump-{number:04d}.txt").write_text("\n\n\n".join(_dump(a) for a in chunk) + "\n", encoding="utf-8")
    planted = {output_id[copy]: output_id[original] for copy, original in planted.items()}
    return {"planted": planted, "megabytes": sum(p.stat().st_size for p in night.iterdir()) / 1e6}


PAGES_PER_WARC = 100
_PARAGRAPH = None  # compiled on first use (bench only)


def page_templates() -> list[tuple[str, bytes]]:
    """(url, HTML bytes) of real pages, else of the sample pages."""
    folder = CORPORA / "boilerplate" / "html" / "scrapinghub_aeb"
    gold = CORPORA / "boilerplate" / "scrapinghub_aeb.jsonl.gz"
    if folder.is_dir() and gold.exists():
        with gzip.open(gold) as handle:
            urls = {record["id"]: record["url"] for record in map(orjson.loads, handle)}
        return [(urls[path.name.removesuffix(".html.gz")], gzip.decompress(path.read_bytes()))
                for path in sorted(folder.glob("*.html.gz"))]
    pages = sorted((ROOT / "samples").rglob("*.html")) + sorted((ROOT / "bench" / "pages").glob("*.html"))
    return [(f"https://sample.example/{path.name}", path.read_bytes()) for path in pages]


def generate_pages(raw: Path, count: int, seed: int = 7) -> dict:
    """Write a night of ``count`` pages: real sites' markup, BBC paragraphs."""
    import html
    import re

    from bench.warcs import Fetched, write_warc

    rng = np.random.default_rng(seed)
    templates = page_templates()
    paragraphs = [p for source in source_paragraphs() for p in source]
    # A paragraph: <p>, then text and inline markup only, then </p>.
    inline = rb"(?:[^<]|</?(?:a|b|i|em|strong|span|br|abbr|time|small)\b[^>]*>)"
    paragraph = re.compile(rb"(<p(?:\s[^>]*)?>)(" + inline + rb"{20,}?)(</p>)", re.I)
    night = raw / NIGHT
    shutil.rmtree(night, ignore_errors=True)
    night.mkdir(parents=True)
    fetches: list = []
    html_bytes = 0
    for i in range(count):
        url, template = templates[i % len(templates)]

        def replace(match: re.Match) -> bytes:
            text = paragraphs[int(rng.integers(0, len(paragraphs)))]
            return match.group(1) + html.escape(text, quote=False).encode("ascii", "xmlcharrefreplace") + match.group(3)

        page = paragraph.sub(replace, template)
        html_bytes += len(page)
        if i % 2 == 0:
            (night / f"page-{i:06d}.html.gz").write_bytes(gzip.compress(page, mtime=0))
        else:
            fetches.append(Fetched(f"{url}#copy-{i}", page))
            if len(fetches) == PAGES_PER_WARC:
                write_warc(night / f"crawl-{i:06d}.warc.gz", fetches)
                fetches = []
    if fetches:
        write_warc(night / f"crawl-{count:06d}.warc.gz", fetches)
    on_disk = sum(p.stat().st_size for p in night.iterdir())
    return {"planted": {}, "megabytes": html_bytes / 1e6, "on_disk_megabytes": round(on_disk / 1e6, 2)}


def hand_written_pages(raw: Path, count: int) -> dict:
    """trafilatura.extract (its defaults), ftfy.fix_text, MinHash per shingle and MinHashLSH,
    on the first ``count`` page files."""
    import trafilatura

    pages = [gzip.decompress(path.read_bytes()) for path in sorted((raw / NIGHT).glob("page-*.html.gz"))[:count]]
    megabytes = sum(len(page) for page in pages) / 1e6
    trafilatura.extract(pages[0])  # imports
    return _by_hand(pages, megabytes, lambda page: trafilatura.extract(page) or "")


def _dump(article: dict) -> str:
    """One article in the seed layout."""
    captions = [c for c in article["captions"] for _ in (0, 1)]
    head = [article["title"], "", *captions, "TT", "20", "", article["title"], "", *captions, ""]
    return "\n".join(head) + "\n" + article["text"]


def run_night(raw: Path, out: Path, state: Path, workers: int, processes: int) -> dict:
    return run_nights(raw, [(out, state)], workers, processes)[0]


def run_nights(raw: Path, folders: list[tuple[Path, Path]], workers: int, processes: int) -> list[dict]:
    """The night run once per (out, state) pair of folders, all at the same time, each in
    a fresh process."""
    commands = []
    for out, state in folders:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
        commands.append([sys.executable, "-m", "bench.run_night", NIGHT, str(raw), str(out), str(state),
                         "--workers", str(workers), "--set", f"processes={processes}"])
    running = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for command in commands]
    finished = [(process, *process.communicate()) for process in running]  # all waited for, even after a failure
    for process, _stdout, stderr in finished:
        if process.returncode:
            sys.stderr.write(stderr.decode()[-3000:])
            raise SystemExit("the night failed")
    return [orjson.loads(stdout) for _process, stdout, _stderr in finished]


def side_by_side(work: Path, count: int, repeat: int) -> dict:
    """One one-worker night alone, then ``count`` of them at once; ``repeat`` times, in
    turn, so that both are measured in the same minutes. Medians."""
    alone, together = [], []
    for _ in range(repeat):
        alone.append(run_night(work / "raw", work / "out", work / "state", 1, 1)["seconds"])
        runs = run_nights(work / "raw", [(work / f"out-{k}", work / f"state-{k}") for k in range(count)], 1, 1)
        together.append(float(np.median([run["seconds"] for run in runs])))
    for k in range(count):
        shutil.rmtree(work / f"out-{k}", ignore_errors=True)
        shutil.rmtree(work / f"state-{k}", ignore_errors=True)
    alone_s, together_s = float(np.median(alone)), float(np.median(together))
    return {
        "nights": count,
        "alone_seconds": alone,
        "side_by_side_seconds": together,
        "slowdown": round(together_s / alone_s - 1, 3),
        "most_workers_can_give": round(count * alone_s / together_s, 2),
    }


def score_planted(out: Path, planted: dict[str, str]) -> dict:
    """Recall: planted copies that end up in their original's group (either one may be the
    kept article: input order is by file name). Precision: reported pairs inside one
    planted cluster."""
    duplicates = [orjson.loads(line) for line in (out / NIGHT / "duplicates.jsonl").read_bytes().splitlines()]
    reported = {d["id"]: d["dup_of"] for d in duplicates}
    cluster: dict[str, str] = {}
    for copy, original in planted.items():  # originals come before their copies
        cluster[copy] = cluster.get(original, original)

    def group(article_id: str) -> str:
        return reported.get(article_id, article_id)

    found = sum(group(copy) == group(original) for copy, original in planted.items())
    correct = sum(cluster.get(a, a) == cluster.get(b, b) for a, b in reported.items())
    return {
        "planted": len(planted),
        "reported": len(reported),
        "recall": round(found / len(planted), 4) if planted else 1.0,
        "precision": round(correct / len(reported), 4) if reported else 1.0,
    }


def hand_written(raw: Path, count: int) -> dict:
    """ftfy.fix_text + MinHash.update per shingle + MinHashLSH query/insert, on the first articles."""
    texts = []
    for path in sorted((raw / NIGHT).glob("feed-*.jsonl")):
        for line in path.read_bytes().splitlines():
            texts.append(orjson.loads(line)["text"])
            if len(texts) >= count:
                break
        if len(texts) >= count:
            break
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    return {**_by_hand(texts, megabytes, lambda text: text), "bulk": _by_hand_in_bulk(texts, megabytes)}


def _by_hand_in_bulk(texts: list[str], megabytes: float) -> dict:
    """The hand-written pipeline as a user who reads datasketch's documentation writes it:
    ftfy.fix_text, the 5-word shingles of every text, ``MinHash.bulk`` with an xxhash
    function (``xxh32_intdigest``: datasketch wants 32-bit hashes), MinHashLSH query +
    insert; timed."""
    import re

    import ftfy
    import xxhash
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    started = time.perf_counter()
    shingles = []
    for text in texts:
        words = re.findall(r"\w+", ftfy.fix_text(text).lower())
        shingles.append([" ".join(words[k : k + 5]).encode("utf-8") for k in range(max(1, len(words) - 4))])
    for i, minhash in enumerate(MinHash.bulk(shingles, num_perm=128, hashfunc=xxhash.xxh32_intdigest)):
        lsh.query(minhash)
        lsh.insert(str(i), minhash)
    seconds = time.perf_counter() - started
    return {"articles": len(texts), "megabytes": round(megabytes, 3), "seconds": round(seconds, 2),
            "articles_per_s": round(len(texts) / seconds, 1), "mb_per_s": round(megabytes / seconds, 3)}


def _by_hand(items: list, megabytes: float, to_text) -> dict:
    """The hand-written pipeline on ``items`` (``to_text`` makes one a text): ftfy.fix_text,
    datasketch MinHash.update() per 5-word shingle, MinHashLSH query + insert; timed."""
    import re

    import ftfy
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    started = time.perf_counter()
    for i, item in enumerate(items):
        fixed = ftfy.fix_text(to_text(item))
        words = re.findall(r"\w+", fixed.lower())
        minhash = MinHash(num_perm=128)
        for k in range(max(1, len(words) - 4)):
            minhash.update(" ".join(words[k : k + 5]).encode("utf-8"))
        lsh.query(minhash)
        lsh.insert(str(i), minhash)
    seconds = time.perf_counter() - started
    return {"articles": len(items), "megabytes": round(megabytes, 3), "seconds": round(seconds, 2),
            "articles_per_s": round(len(items) / seconds, 1), "mb_per_s": round(megabytes / seconds, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="Luigi workers; several counts (1 2) run in turn, and the ratios are printed")
    parser.add_argument("--processes", type=int, default=1, help="processes per task for the CPU-bound stages")
    parser.add_argument("--no-hand", action="store_true", help="skip the hand-written pipeline")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the night; the median one is reported")
    parser.add_argument("--pages", type=int, metavar="N", help="a night of N HTML pages (files and WARC) instead")
    parser.add_argument("--side-by-side", type=int, metavar="N",
                        help="measure the machine: N one-worker nights at once against one alone")
    args = parser.parse_args()
    if args.pages:
        args.articles = args.pages
    kind = "pages" if args.pages else "articles"
    work = RESULTS / f"pipeline-{kind}-{args.articles}" if args.pages else RESULTS / f"pipeline-{args.articles}"
    print(f"generating {args.articles:,} {kind} in {work / 'raw' / NIGHT}", flush=True)
    night = (generate_pages if args.pages else generate)(work / "raw", args.articles)
    print(f"  {night['megabytes']:.1f} MB, {len(night['planted'])} planted duplicates", flush=True)
    if args.side_by_side:
        shared = side_by_side(work, args.side_by_side, args.repeat)
        path = save(f"pipeline-{args.articles}-side-by-side-{args.side_by_side}", {"articles": args.articles, **shared})
        print(f"machine: {machine()}")
        print(f"alone:   {shared['alone_seconds']} s; {args.side_by_side} at once: {shared['side_by_side_seconds']} s "
              f"(median of the {args.side_by_side})")
        print(f"each night is {shared['slowdown']:.1%} slower beside the others: {args.side_by_side} workers "
              f"can give at most {shared['most_workers_can_give']}x one worker on this machine")
        print(f"results: {path}")
        return 0
    runs: dict[int, list] = {workers: [] for workers in args.workers}
    hands = []
    for _ in range(args.repeat):  # each run on a fresh output and state folder
        # With several worker counts, they take turns, so that all are measured in the
        # same minutes (this machine's speed drifts by 10 % within an hour).
        for workers in args.workers:
            measured = run_night(work / "raw", work / "out", work / "state", workers, args.processes)
            report = orjson.loads((work / "out" / NIGHT / "report.json").read_bytes())
            runs[workers].append((measured, report, score_planted(work / "out", night["planted"])))
        if not args.no_hand:
            # The hand-written pipeline after each round of nights, for the same reason.
            hands.append(hand_written_pages(work / "raw", HAND_SLICE // 4) if args.pages
                         else hand_written(work / "raw", HAND_SLICE))
    hand = None
    if hands:
        hand = sorted(hands, key=lambda run: run["seconds"])[len(hands) // 2]
        hand["runs_mb_per_s"] = [run["mb_per_s"] for run in hands]
        if "bulk" in hand:
            hand["bulk"] = sorted((run["bulk"] for run in hands), key=lambda run: run["seconds"])[len(hands) // 2]
            hand["bulk"]["runs_mb_per_s"] = [run["bulk"]["mb_per_s"] for run in hands]
    print(f"machine: {machine()}")
    first: dict | None = None
    for workers in args.workers:
        results = summarise(args, night, workers, runs[workers], hand)
        if first is None:
            first = results
        else:
            results[f"vs_{first['workers']}_workers"] = round(first["seconds"] / results["seconds"], 2)
        name = f"pipeline-{kind + '-' if args.pages else ''}{args.articles}-w{workers}-p{args.processes}"
        print_results(results, save(name, results))
    return 0


def summarise(args: argparse.Namespace, night: dict, workers: int, runs: list, hand: dict | None) -> dict:
    """The figures of the median run of one worker count."""
    # The median run (machines like this one vary by several percent from run to run).
    measured, report, dedup = sorted(runs, key=lambda run: run[0]["seconds"])[len(runs) // 2]
    results = {
        "articles": args.articles,
        "megabytes": round(night["megabytes"], 2),
        "workers": workers,
        "processes": args.processes,
        "runs_seconds": [run[0]["seconds"] for run in runs],
        "seconds": measured["seconds"],
        "articles_per_s": round(args.articles / measured["seconds"], 1),
        "mb_per_s": round(night["megabytes"] / measured["seconds"], 2),
        "peak_rss_mb": max(run[0]["peak_rss_mb"] for run in runs),
        "stage_seconds": report["seconds"],
        "timeline": measured["timeline"],
        "duplicates": dedup,
        "articles_out": report["articles_out"],
    }
    if args.pages:
        results["pages"] = report["pages"]
        results["pages_per_s"] = round(report["pages"] / measured["seconds"], 1)
        results["on_disk_megabytes"] = night["on_disk_megabytes"]
        results["extract_share"] = round(report["seconds"].get("extract", 0) / sum(report["seconds"].values()), 3)
        results["rejected"] = report["rejected"]
        results["duplicates_found"] = report["duplicates"]
    if hand is not None:
        results["hand_written"] = hand
        results["speedup_vs_hand_written"] = round(results["mb_per_s"] / hand["mb_per_s"], 1)
        if "bulk" in hand:
            results["speedup_vs_hand_written_bulk"] = round(results["mb_per_s"] / hand["bulk"]["mb_per_s"], 1)
    return results


def print_results(results: dict, path: Path) -> None:
    dedup, timeline = results["duplicates"], results["timeline"]
    print(f"night:   {results['articles']:,} articles, {results['megabytes']} MB, workers {results['workers']}, "
          f"processes {results['processes']}")
    print(f"total:   {results['seconds']} s (median of {results['runs_seconds']}), {results['articles_per_s']} "
          f"articles/s, {results['mb_per_s']} MB/s, peak {results['peak_rss_mb']} MB")
    if "pages" in results:
        print(f"pages:   {results['pages']:,} ({results['on_disk_megabytes']} MB on disk), {results['pages_per_s']} pages/s, "
              f"extraction {results['extract_share']:.0%} of the stages' seconds, {results['rejected']} rejected")
    print("stages:  " + ", ".join(f"{k} {v} s" for k, v in results["stage_seconds"].items()))
    print(f"tasks:   {timeline['before_first_task']} s before the first; "
          + ", ".join(f"{k} running {v} s" for k, v in timeline["tasks_running"].items()))
    if "pages" in results:
        print(f"dedup:   {results['duplicates_found']} (pages of one template whose paragraphs could not be replaced)")
    else:
        print(f"dedup:   planted {dedup['planted']}, recall {dedup['recall']}, precision {dedup['precision']}")
    if "hand_written" in results:
        hand = results["hand_written"]
        print(f"by hand: {hand['articles_per_s']} articles/s, {hand['mb_per_s']} MB/s on {hand['articles']} articles "
              f"(median of {hand['runs_mb_per_s']} MB/s, one run after each round of nights); the pipeline is "
              f"{results['speedup_vs_hand_written']}x faster")
        if "bulk" in hand:
            bulk = hand["bulk"]
            print(f"in bulk: {bulk['articles_per_s']} articles/s, {bulk['mb_per_s']} MB/s (MinHash.bulk with "
                  f"xxhash, median of {bulk['runs_mb_per_s']} MB/s); the pipeline is "
                  f"{results['speedup_vs_hand_written_bulk']}x faster")
    for key, ratio in results.items():
        if key.startswith("vs_"):
            print(f"ratio:   {results['workers']} workers are {ratio}x {key.split('_')[1]} (medians of runs taken in turn)")
    print(f"results: {path}")


if __name__ == "__main__":
    sys.exit(main())
