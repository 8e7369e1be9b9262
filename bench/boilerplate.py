"""Boilerplate removal measured on real pages with gold clean text.

    python -m bench.boilerplate            # every set, both inputs, through the Luigi chain
    python -m bench.boilerplate --direct   # the same stage functions without Luigi (faster)

For each set of ../shared/corpora/boilerplate and each input (``fulltext``: all visible
text of the page; ``extract``: a main-content extractor's output), the pages become a
night's JSONL input (``id``, ``url``, ``text``); the cleaned ``title`` + ``text`` of each
page (empty if the page was rejected) is scored against the gold: micro precision /
recall / F1 over multisets of lower-cased word 4-grams, beside the uncleaned baseline.
For ``trafilatura_eval_en``: must-keep segments kept and must-drop segments removed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import sys
import tempfile
from pathlib import Path

import orjson

from bench.common import CORPORA, machine, save
from bench.evaluation import score_texts, segments_kept
from pipeline import repair as encoding
from pipeline.clean import sitelines
from pipeline.clean.boilerplate import CleanContext, clean_article
from pipeline.clean.rules import BoilerplateConfig, load_rules
from pipeline.read import readers

SETS = ("scrapinghub_aeb", "cleanportaleval", "cleaneval_dev", "trafilatura_eval_en")
INPUTS = ("fulltext", "extract")
NIGHT = "2026-11-27"


def load_set(name: str) -> list[dict]:
    with gzip.open(CORPORA / "boilerplate" / f"{name}.jsonl.gz") as handle:
        return [orjson.loads(line) for line in handle]


def night_records(pages: list[dict], field: str) -> bytes:
    return b"".join(orjson.dumps({"id": p["id"], "url": p["url"], "text": p[field]}) + b"\n" for p in pages)


def clean_direct(pages: list[dict], field: str, config: BoilerplateConfig, min_words: int) -> dict[str, str]:
    """The read, repair, site-lines and clean stages called directly: id -> title + text."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pages.jsonl"
        path.write_bytes(night_records(pages, field))
        result = readers.read_file(Path(folder), "pages.jsonl", NIGHT)
    articles = [encoding.repair_article(a) for a in result.articles]
    counts = sitelines.count_sites((a.url, a.source["file"], a.text) for a in articles)
    # As CleanFile reads them: the lines' keys as numbers (line_hash), not hex.
    boilerplate = {site: {int(key, 16) for key in keys} for site, keys in counts.boilerplate(config.site_lines).items()}
    context = CleanContext(config, boilerplate, min_words)
    out = {p["id"]: "" for p in pages}
    for article in articles:
        article, _, rejection = clean_article(article, context)
        out[article.id] = "" if rejection else _title_and_text(article.title, article.text)
    return out


def clean_with_luigi(pages: list[dict], field: str, settings: dict) -> dict[str, str]:
    """The whole Luigi chain on a temporary night: id -> title + text of the clean stage."""
    import luigi
    import luigi.configuration
    from luigi.task_register import Register

    from pipeline.tasks import CleanCorpus

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "raw" / NIGHT).mkdir(parents=True)
        (root / "raw" / NIGHT / "pages.jsonl").write_bytes(night_records(pages, field))
        config = luigi.configuration.get_config()
        for key, value in {"raw_dir": root / "raw", "out_dir": root / "out", "state_dir": root / "state",
                           **settings}.items():
            config.set("pipeline", key, str(value))
        Register.clear_instance_cache()
        assert luigi.build([CleanCorpus(date=dt.date.fromisoformat(NIGHT))], local_scheduler=True,
                           log_level="WARNING")
        out = {p["id"]: "" for p in pages}
        for path in sorted((root / "out" / NIGHT / "stages" / "3-clean").glob("*.articles.jsonl")):
            for line in path.read_bytes().splitlines():
                article = orjson.loads(line)
                out[article["id"]] = _title_and_text(article["title"], article["text"])
        return out


def _title_and_text(title: str | None, text: str) -> str:
    return f"{title}\n{text}" if title else text


def evaluate(direct: bool = False, config: BoilerplateConfig | None = None, min_words: int | None = None) -> dict:
    config = config or load_rules()
    if min_words is None:
        from pipeline.settings import Settings

        min_words = Settings().min_words
    results: dict = {}
    for name in SETS:
        pages = load_set(name)
        for field in INPUTS:
            if direct:
                cleaned = clean_direct(pages, field, config, min_words)
            else:
                cleaned = clean_with_luigi(pages, field, {"min_words": min_words})
            if name == "trafilatura_eval_en":
                results[(name, field)] = {
                    "baseline": _segments(pages, {p["id"]: p[field] for p in pages}),
                    "cleaned": _segments(pages, cleaned),
                }
            else:
                results[(name, field)] = {
                    "baseline": score_texts((p[field], p["gold"]) for p in pages).__dict__,
                    "cleaned": score_texts((cleaned[p["id"]], p["gold"]) for p in pages).__dict__,
                }
    return results


def _segments(pages: list[dict], outputs: dict[str, str]) -> dict:
    kept = total_keep = removed = total_drop = 0
    for page in pages:
        a, b = segments_kept(outputs[page["id"]], page["with"])
        c, d = segments_kept(outputs[page["id"]], page["without"])
        kept, total_keep, removed, total_drop = kept + a, total_keep + b, removed + d - c, total_drop + d
    return {"must_keep_kept": kept, "must_keep": total_keep, "must_drop_removed": removed, "must_drop": total_drop}


def print_table(results: dict) -> None:
    print(f"{'set':<22}{'input':<10}{'baseline P / R / F1':>24}{'cleaned P / R / F1':>24}")
    for (name, field), r in results.items():
        b, c = r["baseline"], r["cleaned"]
        if name == "trafilatura_eval_en":
            print(f"{name:<22}{field:<10}"
                  f"{'kept %d/%d, removed %d/%d' % (b['must_keep_kept'], b['must_keep'], b['must_drop_removed'], b['must_drop']):>24}"
                  f"{'kept %d/%d, removed %d/%d' % (c['must_keep_kept'], c['must_keep'], c['must_drop_removed'], c['must_drop']):>24}")
        else:
            print(f"{name:<22}{field:<10}{b['precision']:>9.4f} /{b['recall']:.4f} /{b['f1']:.4f}"
                  f"{c['precision']:>9.4f} /{c['recall']:.4f} /{c['f1']:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--direct", action="store_true", help="call the stage functions without Luigi")
    args = parser.parse_args()
    if not (CORPORA / "boilerplate").is_dir():
        print(f"{CORPORA / 'boilerplate'} is missing", file=sys.stderr)
        return 2
    results = evaluate(direct=args.direct)
    print(f"machine: {machine()}")
    print_table(results)
    path = save("boilerplate", {"runs": [{"set": k[0], "input": k[1], **v} for k, v in results.items()]})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
