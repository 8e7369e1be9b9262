"""trafilatura's settings for HTML pages, chosen by cross-validation, and what extraction costs.

    python -m bench.html            # the 181 scrapinghub_aeb pages (../shared/corpora)

For every combination of the [html] settings that matter (trafilatura's mode: precision,
default or recall; tables in or out; its fast mode first, with the full mode again for
pages where the fast one finds fewer than N words, ``fast_below_words``), the pipeline's own extraction
(``pipeline.read.html.extract``: charset, trafilatura, captions, what was left out) runs
on every page, and each page's output is scored against its gold with the word-4-gram
metric of the boilerplate corpora. The pages are then split into ten folds by site (the
URL's host; one page a site here), and for each fold the combination with the best F1 on
the other nine is chosen and scored on the held-out one. The held-out F1 is the figure; a
combination chosen on every fold is the setting the rules file ships.

It also times extraction: pages/s and MB/s of ``extract`` (one process), against
trafilatura's own ``extract`` with its defaults on the same pages. Results go to
bench/results/html.json.
"""

from __future__ import annotations

import gzip
import itertools
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import orjson

from bench.common import CORPORA, machine, save
from bench.evaluation import micro_scores, page_counts
from pipeline.clean.rules import HtmlSettings
from pipeline.read.html import Page, extract

SET = "scrapinghub_aeb"
FOLDS = 10
MODES = {"precision": {"favor_precision": True}, "default": {}, "recall": {"favor_recall": True}}
# fast_below_words tried: 0 is the full mode alone.
FAST_BELOW = (0, 50, 100, 150, 200)
SHIPPED = "precision, tables, fast below 100"


def load_pages() -> list[dict]:
    """The pages: id, url, html bytes, gold text."""
    folder = CORPORA / "boilerplate" / "html" / SET
    with gzip.open(CORPORA / "boilerplate" / f"{SET}.jsonl.gz") as handle:
        gold = {record["id"]: record for record in map(orjson.loads, handle)}
    pages = []
    for path in sorted(folder.glob("*.html.gz")):
        key = path.name.removesuffix(".html.gz")
        pages.append({"id": key, "url": gold[key]["url"], "html": gzip.decompress(path.read_bytes()),
                      "gold": gold[key]["gold"]})
    return pages


def f1(rows: list[tuple[int, int, int]]) -> dict:
    """Micro precision, recall and F1 over pages' counts, rounded."""
    precision, recall, score = micro_scores(rows)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(score, 4)}


def run(pages: list[dict], settings: HtmlSettings) -> tuple[list[tuple[int, int, int]], float]:
    """Each page's counts with these settings, and the seconds extraction took."""
    rows, seconds = [], []
    for number, page in enumerate(pages):
        started = time.perf_counter()
        extracted = extract(Page(file=f"{page['id']}.html", index=number, date="2026-11-27",
                                 html=page["html"], url=page["url"]), settings)
        seconds.append(time.perf_counter() - started)
        text = extracted.article.text if extracted.article else ""
        rows.append(page_counts(text, page["gold"]))
    return rows, sum(seconds)


def folds(pages: list[dict]) -> list[int]:
    """Each page's fold: its site's (host's) place in the sorted hosts, modulo FOLDS, so
    that no site is in two folds."""
    hosts = sorted({urlsplit(page["url"]).hostname or "" for page in pages})
    number = {host: i % FOLDS for i, host in enumerate(hosts)}
    return [number[urlsplit(page["url"]).hostname or ""] for page in pages]


def cross_validate(scores: dict[str, list[tuple[int, int, int]]], fold_of: list[int]) -> dict:
    """For each fold, the combination best on the others, scored on the fold."""
    held_out: list[tuple[int, int, int]] = []
    chosen = []
    for fold in range(FOLDS):
        train = {name: f1([row for row, k in zip(rows, fold_of) if k != fold])["f1"] for name, rows in scores.items()}
        best = max(train, key=lambda name: (train[name], name == SHIPPED))  # ties: the shipped one
        chosen.append(best)
        held_out += [row for row, k in zip(scores[best], fold_of) if k == fold]
    return {"held_out": f1(held_out), "chosen": dict(Counter(chosen)), "folds": chosen}


def trafilatura_alone(pages: list[dict]) -> float:
    """Seconds of trafilatura.extract with its defaults over the pages (bytes as given)."""
    import trafilatura

    started = time.perf_counter()
    for page in pages:
        trafilatura.extract(page["html"], url=page["url"])
    return time.perf_counter() - started


def main() -> int:
    if not (CORPORA / "boilerplate" / "html" / SET).is_dir():
        print(f"needs {CORPORA / 'boilerplate' / 'html' / SET} (the shared corpora)", file=sys.stderr)
        return 2
    pages = load_pages()
    megabytes = sum(len(page["html"]) for page in pages) / 1e6
    print(f"{len(pages)} pages, {megabytes:.1f} MB of HTML ({SET})", flush=True)
    run(pages[:5], HtmlSettings())  # imports and warms trafilatura
    scores, timing = {}, {}
    for (mode, options), tables in itertools.product(MODES.items(), (True, False)):
        base = f"{mode}, {'tables' if tables else 'no tables'}"
        settings = HtmlSettings(**{"favor_precision": False, **options, "include_tables": tables})
        for below in FAST_BELOW:
            name = base if not below else f"{base}, fast below {below}"
            scores[name], timing[name] = run(pages, HtmlSettings(**{**settings.__dict__, "fast_below_words": below}))
        for name in [base] + [f"{base}, fast below {b}" for b in FAST_BELOW if b]:
            figure = f1(scores[name])
            print(f"  {name:36} P {figure['precision']:.4f}  R {figure['recall']:.4f}  F1 {figure['f1']:.4f}  "
                  f"{len(pages) / timing[name]:.1f} pages/s", flush=True)
    validated = cross_validate(scores, folds(pages))
    alone = trafilatura_alone(pages)
    shipped = SHIPPED
    results = {
        "set": SET,
        "pages": len(pages),
        "megabytes": round(megabytes, 2),
        "all_pages": {name: f1(rows) for name, rows in scores.items()},
        "cross_validation": {"folds": FOLDS, "by": "site (URL host)", **validated},
        "extract": {
            "settings": shipped,
            "seconds": round(timing[shipped], 2),
            "pages_per_s": round(len(pages) / timing[shipped], 1),
            "mb_per_s": round(megabytes / timing[shipped], 2),
        },
        "trafilatura_extract_defaults": {"seconds": round(alone, 2), "pages_per_s": round(len(pages) / alone, 1)},
    }
    path = save("html", results)
    print(f"machine: {machine()}")
    print(f"held out ({FOLDS} folds by site): F1 {validated['held_out']['f1']} "
          f"(P {validated['held_out']['precision']}, R {validated['held_out']['recall']}); chosen: {validated['chosen']}")
    print(f"extract ({shipped}): {results['extract']['pages_per_s']} pages/s, {results['extract']['mb_per_s']} MB/s; "
          f"trafilatura.extract alone: {results['trafilatura_extract_defaults']['pages_per_s']} pages/s")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
