"""The history's commands: ``history verify`` and ``history rebuild`` (``python -m pipeline
history ...``, see ``__main__``), and where a rebuild finds a night's kept articles and
site-line counts again: its stage files, else its outputs (:class:`OutDirSources`).

Like the other commands they read their settings as the night does and end with an
exit code of ``exits.Exit``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

from pipeline import tasks
from pipeline.clean.rules import load_rules
from pipeline.clean.sitelines import SiteCounts
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.fingerprint import make_docs
from pipeline.dedup.history import (
    REBUILD_HINT,
    CommitInfo,
    History,
    HistoryDamaged,
    HistoryMismatch,
    Problem,
    RebuildSources,
    all_problems,
    open_history,
    rebuild,
    site_line_sanity,
)
from pipeline.dedup.history.files import checksum
from pipeline.dedup.night import NightSigns, kept_for_history
from pipeline.dedup.policy import priority
from pipeline.io.jsonl import read_json, read_jsonl, write_bytes, write_json
from pipeline.operate.exits import Exit, refuse
from pipeline.operate.retention import SITE_COUNTS
from pipeline.records import Article
from pipeline.report.nightdata import NIGHT_RE
from pipeline.settings import Settings, dedup_config, rules_path, site_lines_path


def finished_out_nights() -> list[dt.date]:
    """The nights of out_dir whose outputs are written."""
    out_dir = Path(Settings().out_dir)
    if not out_dir.is_dir():
        return []
    return sorted(dt.date.fromisoformat(p.name) for p in out_dir.iterdir()
                  if NIGHT_RE.match(p.name) and (p / "report.json").is_file())


class OutDirSources(RebuildSources):
    """A night's kept articles again, for ``history rebuild``: from its stage files (the
    sign stage's arrays and dedup's decisions: the very folder the commit wrote), else
    from its ``articles.jsonl`` and ``duplicates.jsonl``."""

    def __init__(self) -> None:
        self.out_dir = Path(Settings().out_dir)

    def finished_nights(self) -> list[str]:
        return [d.isoformat() for d in finished_out_nights() if tasks.CommitHistory(date=d).complete()]

    def commit_info(self, night: str) -> CommitInfo:
        stats = self.out_dir / night / "stages" / "5-dedup" / "stats.json"
        recorded = read_json(stats) if stats.is_file() else {}
        return CommitInfo(compared_with=recorded.get("compared_with"), gaps=recorded.get("gaps"),
                          site_lines=site_lines_path(night))

    def kept_articles(self, night: str, config: DedupConfig, stages: bool = True):
        made = None
        if stages:
            try:
                made = self._from_stages(night, config)
            except (OSError, ValueError, KeyError):
                made = None
        if made is None:
            try:
                made = self._from_outputs(night, config)
            except (OSError, ValueError, KeyError):
                made = None
        return made

    def _from_stages(self, night: str, config: DedupConfig):
        stages = self.out_dir / night / "stages"
        decisions_path = stages / "5-dedup" / "decisions.jsonl"
        signs = sorted((stages / "4-sign").glob("*.docs"))
        if not decisions_path.is_file() or not signs:
            return None
        kept, superseded = kept_for_history(NightSigns(signs, night, config, config.keep == "latest", bands=False),
                                            read_jsonl(decisions_path), config.keep)
        return kept, [tuple(entry) for entry in superseded], f"{stages} (stage files)"

    def _from_outputs(self, night: str, config: DedupConfig):
        folder = self.out_dir / night
        if not (folder / "articles.jsonl").is_file():
            return None
        articles = list(read_jsonl(folder / "articles.jsonl"))
        records = [
            {"key": f"{night}/{Article.key_of(r['source'])}", "id": r["id"], "text": r["text"],
             "title": r["title"], "published": r.get("published")}
            for r in articles
        ]
        docs = make_docs(records, night, config)
        duplicates = list(read_jsonl(folder / "duplicates.jsonl")) if (folder / "duplicates.jsonl").is_file() else []
        # A doc's rank is its place among all the night's cleaned articles, in input order
        # (files sorted, then position in the file): the kept ones and tonight's duplicates.
        order = sorted([(r["source"]["file"], r["source"]["index"]) for r in articles]
                       + [(d["source"]["file"], d["source"]["index"]) for d in duplicates if d.get("source")])
        rank = {position: number for number, position in enumerate(order)}
        for doc, record in zip(docs, articles):
            doc.rank = rank[(record["source"]["file"], record["source"]["index"])]
        kept = sorted(docs, key=priority(config.keep))
        keys = {r["id"]: r["key"] for r in reversed(records)}  # the first article of an id
        superseded = []
        for record in duplicates:
            if record.get("superseded"):
                old = self._key_in(record["night"], record["id"])
                if old is not None and record["dup_of"] in keys:
                    superseded.append((record["night"], old, keys[record["dup_of"]]))
        return kept, superseded, f"{folder / 'articles.jsonl'}"

    def _key_in(self, night: str, article_id: str) -> str | None:
        path = self.out_dir / night / "articles.jsonl"
        if path.is_file():
            for record in read_jsonl(path):
                if record["id"] == article_id:
                    return f"{night}/{Article.key_of(record['source'])}"
        return None

    def site_lines(self, night: str) -> SiteCounts | None:
        """The night's site-line counts again, from its repair stage's pages."""
        pages = sorted((self.out_dir / night / "stages" / "2-repair").glob("*.sitepages.jsonl"))
        if not pages:
            return None
        counts = SiteCounts()
        for path in pages:
            for site, story, keys in read_jsonl(path):
                counts.add_page(site, story, keys)
        return counts


def open_night_history() -> History:
    """The history the settings name; one that cannot be opened stops the command."""
    cfg = Settings()
    try:
        return open_history(cfg.state_dir, cfg.index_url, dedup_config())
    except HistoryMismatch as error:
        refuse(Exit.BAD_SETTINGS, str(error))
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))


def verify_history(full: bool) -> tuple[list[str], list[str], str]:
    """The problems and the warnings of the whole history, one line each, and a summary."""
    history = open_night_history()
    try:
        found = all_problems(history, full=full, site_lines_dir=Path(Settings().state_dir) / "site_lines")
        try:
            nights = history.nights()
        except HistoryDamaged:  # named among the problems
            nights = None
        # What a night checks before it runs: the finished nights of out_dir are listed.
        if nights is not None:
            found += [Problem(night, f"night {night} is not in the history ({history.manifest_path} does not "
                                     f"list it), but it is finished in {Settings().out_dir}; {REBUILD_HINT}")
                      for night in OutDirSources().finished_nights() if night not in nights]
    finally:
        history.close()
    problems = [p.message for p in found if not p.warning]
    warnings = [p.message for p in found if p.warning]
    nights = nights or {}
    summary = f"{len(nights)} nights, {sum(e.articles for e in nights.values()):,} articles"
    return problems, warnings, summary


def rebuild_history() -> tuple[list[str], list[str]]:
    """Rebuild the history (see ``dedup.history.rebuild``), the site-line counts first
    (every committed or finished night's, when missing or damaged), so that the manifest
    written records them; returns what was done and what could not be."""
    sources = OutDirSources()
    cfg = Settings()
    try:
        history = open_history(cfg.state_dir, cfg.index_url, dedup_config(), for_rebuild=True)
    except HistoryDamaged as error:
        refuse(Exit.HISTORY, str(error))
    try:
        try:
            listed, _ = history.read_manifest()
        except HistoryDamaged:
            listed = {}
        nights = sorted(set(listed) | set(sources.finished_nights()))
        done, messages = restore_site_lines(nights, listed, sources)
        rebuilt, problems = rebuild(history, sources)
    finally:
        history.close()
    return done + rebuilt, messages + [p.message for p in problems]


def restore_site_lines(nights: Sequence[str], listed: dict, sources: OutDirSources) -> tuple[list[str], list[str]]:
    """Each night's site-line counts (``state_dir/site_lines/NIGHT.json``) made whole again
    when missing, impossible, or not the committed ones: from the copy the night keeps in
    its stages (``3-site-lines/counts.json``), else counted again from its repair stage.
    A night with neither is named: a problem when a later night's counting would read it
    (it is among the last ``recent_nights``), else only a note."""
    done, problems = [], []
    state = Path(Settings().state_dir) / "site_lines"
    recent = load_rules(rules_path()).site_lines.recent_nights
    newest = max(nights, default=None)
    for night in nights:
        path = state / f"{night}.json"
        entry = listed.get(night)
        damaged = site_line_sanity(path) if path.exists() else ["missing"]
        if not damaged and entry is not None and entry.site_lines is not None and checksum(path) != entry.site_lines:
            damaged = ["not the committed counts"]
        if not damaged:
            continue
        copy = sources.out_dir / night / "stages" / "3-site-lines" / SITE_COUNTS
        if copy.is_file() and not site_line_sanity(copy):
            write_bytes(path, [copy.read_bytes()])
            done.append(f"night {night}: site-line counts restored from {copy}")
            continue
        counts = sources.site_lines(night)
        if counts is not None:
            write_json(path, counts.to_json())
            done.append(f"night {night}: site-line counts made again from its repair stage")
            continue
        message = (f"night {night}: {path} is {damaged[0] if damaged == ['missing'] else 'damaged'} and "
                   f"{sources.out_dir / night / 'stages'} has neither {SITE_COUNTS} nor repair-stage pages "
                   "to make it from")
        if newest is not None and dt.date.fromisoformat(night) >= dt.date.fromisoformat(newest) - dt.timedelta(
                days=recent):
            problems.append(message + " (the next night's site lines count it: rerun the night)")
        else:
            done.append(message + f" (older than the {recent} nights a night counts: not needed)")
    return done, problems
