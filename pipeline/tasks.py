"""The nightly Luigi chain, read top to bottom as the data's path. Luigi only: each task
names its inputs and outputs and calls one function of ``passes``, ``stages`` or ``outputs``.

    RawNight(date)                      the scraper's folder RAW_DIR/YYYY-MM-DD
      -> ReadFile(date, shard)          split into articles         stages/1-read/
                                        then encoding repair (ftfy) stages/2-repair/
      -> CountSiteLines(date)           lines repeated on a site    stages/3-site-lines/
      -> CleanFile(date, shard)         boilerplate removal         stages/3-clean/
                                        then shingles + MinHash     stages/4-sign/
      -> GatherRemoved(date)            removed lines, rejections   stages/3-removed/
      -> Deduplicate(date)              exact + near duplicates     stages/5-dedup/
      -> WriteOutputs(date)             the night's outputs         OUT_DIR/YYYY-MM-DD/
         beside CommitHistory(date)     tonight's kept articles     STATE_DIR/history/
      -> CleanCorpus(date)              both done: the night is done

(A stage folder's number is the step of the product it belongs to: 3 is boilerplate
removal, whose site-line counts, cleaning and gathered removals are three folders.)
Per-file stages run one task per shard: a large dump is a shard of its own, small
files are grouped (``shard_bytes``, ``shard_files``). ``CountSiteLines`` and
``Deduplicate`` also wait for the history commits of the earlier nights they read.

Importing this module, Luigi's entry point (``luigi --module pipeline.tasks``), puts the
shipped settings, exit codes and log level in force (``settings.apply_defaults``):
Luigi reads its configuration before any task exists and offers no other hook.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

import luigi

from pipeline import passes, stages
from pipeline.clean.boilerplate import CleanContext
from pipeline.clean.rules import load_rules
from pipeline.dedup.history import (
    REBUILD_HINT,
    CommitInfo,
    HistoryDamaged,
    committed_aside,
    gaps_between,
    keep_committed_counts,
    open_history,
    site_line_sanity,
    window_digest,
    window_problems,
)
from pipeline.dedup.night import NightSigns, decide, kept_for_history
from pipeline.io.arrays import digest_of
from pipeline.io.jsonl import read_json, read_jsonl, write_jsonl
from pipeline.operate import checks, retention
from pipeline.operate.preflight import preflight
from pipeline.operate.retention import SITE_COUNTS
from pipeline.outputs import NAMES, Gathered, write_outputs
from pipeline.read.budget import PageBudget
from pipeline.records import StageStats
from pipeline.report.summary import summary_line
from pipeline.settings import (
    Settings,
    apply_defaults,
    dedup_config,
    history_since,
    locks_folder,
    night_paths,
    out_nights,
    raw_nights,
    rules_path,
    site_lines_path,
)
from pipeline.taskbase import (
    LastNightParameter,
    NightTask,
    Progress,
    ShardTask,
    one_at_a_time,
)
from pipeline.text import printable

__all__ = ["CleanCorpus"]

logger = logging.getLogger("luigi-interface")


def earlier_commits(task: NightTask, nights: Iterable[dt.date]) -> list["CommitHistory"]:
    """The history commits of earlier nights, as a night's dependencies (nights without a
    raw folder are gaps: nothing to wait for)."""
    present = raw_nights()
    return [CommitHistory(date=d) for d in nights if d < task.date and d.isoformat() in present]


class ReadFile(ShardTask):
    """Split a shard's raw files into articles, then repair them (one task for the two
    stages: the articles are repaired as read, not read back from the read stage)."""

    parts = {"articles": ("1-read", "articles.jsonl"), "rejected": ("1-read", "rejected.jsonl"),
             "removed": ("1-read", "removed.jsonl"),
             "stats": ("1-read", "stats.json"), "repaired": ("2-repair", "articles.jsonl"),
             "repair_rejected": ("2-repair", "rejected.jsonl"), "sitepages": ("2-repair", "sitepages.jsonl"),
             "repair_stats": ("2-repair", "stats.json")}

    def inputs_used(self) -> str:
        """The shard's files as this stage read them (its stats: each file's bytes and checksum)."""
        return digest_of((e["file"], e["bytes"], e["xxh3"]) for e in read_json(self.output()["stats"].path)["files"])

    @one_at_a_time
    def run(self) -> None:
        shard = self.planned
        logger.info("%s: %d files, %d bytes: %s", self.task_id, len(shard.files), sum(shard.sizes),
                    printable(shard.files[0] if len(shard.files) == 1 else f"{shard.files[0]} ... {shard.files[-1]}"))
        progress = Progress(self, len(shard.files), "files read and repaired")
        rules = load_rules(rules_path())
        passes.read_and_repair(self.paths.raw, self.paths.date, shard, rules, self.paths_of(passes.ReadPaths),
                               Settings().processes, progress.advance,
                               passes.PageSettings(rules.html, Settings().max_page_bytes,
                                                   PageBudget(Settings().page_seconds, Settings().page_memory_mb)))


class CountSiteLines(NightTask):
    """Count, per site, on how many pages each line appears, tonight and on the recent
    nights (whose counts are read once those nights are committed: a dependency)."""

    def dependencies(self) -> dict[str, Any]:
        return {"shards": self.shard_tasks(ReadFile), "earlier": earlier_commits(self, self.recent_nights())}

    def recent_nights(self) -> list[dt.date]:
        settings = load_rules(rules_path()).site_lines
        return [self.date - dt.timedelta(days=days) for days in range(1, settings.recent_nights + 1)]

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "3-site-lines"
        return {"lines": luigi.LocalTarget(str(stage / "site_lines.json")),
                "stats": luigi.LocalTarget(str(stage / "stats.json")),
                "counts": luigi.LocalTarget(str(stage / SITE_COUNTS)),
                "state": luigi.LocalTarget(str(site_lines_path(self.paths.date)))}

    @one_at_a_time
    def run(self) -> None:
        recent = []
        for night in (d.isoformat() for d in self.recent_nights()):
            path = site_lines_path(night)
            if path.exists():
                problems = site_line_sanity(path)
                if problems:
                    raise HistoryDamaged(f"{problems[0]}; {REBUILD_HINT}")
                recent.append((night, path))
        out = self.output()
        # A rerun: the night's committed counts are kept until its commit lists the new ones.
        keep_committed_counts(Path(out["state"].path), Path(Settings().state_dir), self.paths.date)
        stages.count_site_lines([Path(t["sitepages"].path) for t in self.input()["shards"]], recent,
                                load_rules(rules_path()).site_lines, self.paths.date, Path(out["lines"].path),
                                Path(out["stats"].path), Path(out["state"].path), Path(out["counts"].path))


class CleanFile(ShardTask):
    """Remove boilerplate from a shard's articles, then fingerprint the kept ones (one task
    for the two stages: the fingerprints are made from the records just cleaned)."""

    parts = {"articles": ("3-clean", "articles.jsonl"), "rejected": ("3-clean", "rejected.jsonl"),
             "removed": ("3-clean", "removed.jsonl"), "stats": ("3-clean", "stats.json"),
             "docs": ("4-sign", "docs"), "sign_stats": ("4-sign", "stats.json")}

    def dependencies(self) -> dict[str, Any]:
        return {"articles": self.upstream(ReadFile), "site_lines": CountSiteLines(date=self.date)}

    @one_at_a_time
    def run(self) -> None:
        site_lines = read_json(self.input()["site_lines"]["lines"].path)
        context = CleanContext(
            config=load_rules(rules_path()),
            site_boilerplate={site: {int(key, 16) for key in keys} for site, keys in site_lines["boilerplate"].items()},
            min_words=Settings().min_words,
            languages=Settings().language_list,
        )
        repaired = self.input()["articles"]
        progress = Progress(self, read_json(repaired["repair_stats"].path)["counts"]["articles"], "articles cleaned")
        passes.clean_and_sign(Path(repaired["repaired"].path), context, self.paths.date, dedup_config(),
                              self.paths_of(passes.CleanPaths), Settings().processes, progress.advance)


class GatherRemoved(NightTask):
    """The night's removed lines and rejections, gathered from the shards once the clean
    stage is done (with several workers, beside Deduplicate)."""

    def dependencies(self) -> dict[str, Any]:
        return {"read": self.shard_tasks(ReadFile), "clean": self.shard_tasks(CleanFile)}

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "3-removed"
        return {name: luigi.LocalTarget(str(stage / f"{name}.{suffix}"))
                for name, suffix in (("removed", "jsonl"), ("rejected", "jsonl"), ("top_removed", "json"))}

    @one_at_a_time
    def run(self) -> None:
        inputs, out = self.input(), self.output()
        stages.gather_removed(self.plan()[1], [Path(t["rejected"].path) for s in ("read", "clean") for t in inputs[s]],
                              [Path(t["removed"].path) for pair in zip(inputs["read"], inputs["clean"]) for t in pair],
                              Path(out["rejected"].path),
                              Path(out["removed"].path), Path(out["top_removed"].path))


class Deduplicate(NightTask):
    """Exact and near-duplicate decisions for the whole night, against the night and the
    history of the nights before it in its window, which must be committed first (a
    dependency) and complete and intact (checked when scheduled and again when run)."""

    def dependencies(self) -> dict[str, Any]:
        return {"sign": self.shard_tasks(CleanFile), "earlier": earlier_commits(self, self.window_nights())}

    def check_history(self) -> None:
        """Stop the run (exit 11) unless the history is sound for this night's window."""
        checks.history_sound(self.paths.date, window=(history_since(self.date), self.committed_window()))

    def window_nights(self) -> list[dt.date]:
        """The nights before this one that its window covers, as far back as any is known."""
        since = history_since(self.date)
        known = sorted(d for d in raw_nights() | out_nights() if d < self.paths.date and (since is None or d >= since))
        return [dt.date.fromisoformat(d) for d in known]

    def committed_window(self) -> set[str]:
        """The nights of the window whose history commit is done: the history must list them."""
        return {d.isoformat() for d in self.window_nights() if CommitHistory(date=d).complete()}

    def output(self) -> dict[str, luigi.LocalTarget]:
        stage = self.paths.stages / "5-dedup"
        return {"decisions": luigi.LocalTarget(str(stage / "decisions.jsonl")),
                "stats": luigi.LocalTarget(str(stage / "stats.json"))}

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        config, night, since = dedup_config(), self.paths.date, history_since(self.date)
        signs = NightSigns([Path(t["docs"].path) for t in self.input()["sign"]], night, config, config.keep == "latest")
        settings = Settings()
        history = open_history(settings.state_dir, settings.index_url, config)
        try:
            # Again, for what changed since the night was scheduled (the Redis index's entries
            # were sampled then; its nights and evictions are looked at again).
            problems = [p for p in window_problems(history, night, (since, self.committed_window()), index_sample=0)
                        if not p.warning]
            if problems:
                raise HistoryDamaged(str(problems[0]))
            committed = history.nights()
            night_result = decide(signs, lambda s: history.candidates_of(s.prints, s.lengths, s.exact, night, since))
        finally:
            history.close()
        write_jsonl(self.output()["decisions"].path, night_result.decisions())
        known = set(committed) | raw_nights() | out_nights()
        first = max(filter(None, [since, min(known, default=None)]), default=None)
        stats = night_result.stats(since, "redis" if settings.index_url else "files")
        stats.seconds = time.perf_counter() - started
        stats.extra = {"compared_with": window_digest(committed, night, since),
                       "gaps": gaps_between(first, night, set(committed))}
        stats.write(self.output()["stats"].path)


class CommitHistory(NightTask):
    """Make tonight's kept articles the night's entries in the history, for later nights:
    a task of its own, beside the final write; until it is done the night is not."""

    def dependencies(self) -> dict[str, Any]:
        return {"dedup": Deduplicate(date=self.date), "sign": self.shard_tasks(CleanFile),
                "site_lines": CountSiteLines(date=self.date)}

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.paths.stages / "5-dedup" / "history.stats.json"))

    def complete(self) -> bool:
        # A night finished before the commit was a task of its own (its Deduplicate
        # committed; it has no stages/3-removed/, which later versions write) stays done.
        return super().complete() or (
            (self.paths.out / "report.json").is_file() and not (self.paths.stages / "3-removed").exists())

    @one_at_a_time
    def run(self) -> None:
        started = time.perf_counter()
        config, night, inputs = dedup_config(), self.paths.date, self.input()
        signs = NightSigns([Path(t["docs"].path) for t in inputs["sign"]], night, config, config.keep == "latest",
                           bands=False)
        kept, superseded = kept_for_history(signs, read_jsonl(inputs["dedup"]["decisions"].path), config.keep)
        recorded = read_json(inputs["dedup"]["stats"].path)
        info = CommitInfo(compared_with=recorded.get("compared_with"), gaps=recorded.get("gaps"),
                          site_lines=Path(inputs["site_lines"]["state"].path))
        settings = Settings()
        history = open_history(settings.state_dir, settings.index_url, config)
        try:
            history.commit(night, kept, superseded, info)
        finally:
            history.close()
        committed_aside(info.site_lines).unlink(missing_ok=True)  # a rerun's: its new counts are committed
        where = "redis" if settings.index_url else "files"
        StageStats({"kept": len(kept), "superseded": len(superseded), "history": where},
                          time.perf_counter() - started).write(self.output().path)


class WriteOutputs(NightTask):
    """The night's outputs: articles, duplicates, rejected, removed lines, report."""

    def dependencies(self) -> dict[str, Any]:
        return {"dedup": Deduplicate(date=self.date), "site_lines": CountSiteLines(date=self.date),
                "removed": GatherRemoved(date=self.date), "read": self.shard_tasks(ReadFile),
                "clean": self.shard_tasks(CleanFile)}

    def output(self) -> dict[str, luigi.LocalTarget]:
        return {name.replace(".", "_"): luigi.LocalTarget(str(self.paths.out / name)) for name in NAMES}

    @one_at_a_time
    def run(self) -> None:
        inputs = self.input()
        stats = {stage: [read_json(t["stats"].path) for t in inputs[stage]] for stage in ("read", "clean")}
        stats["repair"] = [read_json(t["repair_stats"].path) for t in inputs["read"]]
        stats["extract"] = [s.get("extract", {"counts": {}, "seconds": 0.0}) for s in stats["read"]]
        stats["sign"] = [read_json(t["sign_stats"].path) for t in inputs["clean"]]
        stats["dedup"] = [read_json(inputs["dedup"]["stats"].path)]
        stats["site_lines"] = [read_json(inputs["site_lines"]["stats"].path)]
        gathered = Gathered(*(Path(inputs["removed"][name].path) for name in ("rejected", "removed", "top_removed")))
        write_outputs(self.paths.out, self.paths.date, [Path(t["articles"].path) for t in inputs["clean"]],
                      Path(inputs["dedup"]["decisions"].path), gathered, stats)


class CleanCorpus(luigi.WrapperTask):
    """The night, done: its outputs written (WriteOutputs) and its kept articles in the
    history for later nights (CommitHistory); the two run side by side. Without
    ``--date``, last night's (yesterday's)."""

    date = LastNightParameter(description="the night, YYYY-MM-DD (default: yesterday)")

    @functools.cached_property
    def paths(self):
        return night_paths(self.date)

    def parts(self) -> dict[str, luigi.Task]:
        return {"outputs": WriteOutputs(date=self.date), "history": CommitHistory(date=self.date)}

    def requires(self) -> dict[str, luigi.Task]:
        # The night's one pre-flight, when Luigi first asks what a night that is not done
        # needs: for ``luigi --module pipeline.tasks CleanCorpus`` the only place it has.
        # Done once a night in a process (``newsclean night`` runs it before the build).
        preflight(self.date)
        return self.parts()

    def complete(self) -> bool:
        """Both parts done. The first thing Luigi asks of a night: the process's checks
        (settings, rules, servers: once a process) come first, so that a bad setting
        stops the run with its exit code even for a night that is done. The night's own
        pre-flight waits for ``requires()``: pruning asks this of other nights too."""
        checks.before_any_work()
        return all(task.complete() for task in self.parts().values())

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """For ``RangeDaily --of CleanCorpus``: the nights done (by :meth:`complete`)."""
        return [date for date in parameter_tuples if cls(date=date).complete()]

    def run(self) -> None:
        """The night is written: say so in one line, then prune the stages of nights older
        than the last ``keep_stages`` (see ``operate.retention``)."""
        logger.info(self.summary())
        settings = Settings()
        pruned = retention.prune_old_nights(Path(settings.out_dir), settings.keep_stages,
                                            lambda night: CleanCorpus(date=dt.date.fromisoformat(night)).complete())
        for night, removed in pruned.items():
            shutil.rmtree(locks_folder(night), ignore_errors=True)  # a finished night's
            logger.info("night %s: stages/ pruned (%d bytes removed)", night, removed)

    def summary(self, done_before: bool = False) -> str:
        outputs = WriteOutputs(date=self.date).output()
        return summary_line(read_json(outputs["report_json"].path), outputs["report_html"].path, done_before)


@CleanCorpus.event_handler(luigi.Event.DEPENDENCY_PRESENT)
def _night_already_done(task: CleanCorpus) -> None:
    logger.info(task.summary(done_before=True))
    started = checks.settings_started(task.paths.stages)
    if started is not None and started != checks.run_settings():
        logger.warning("night %s was done with other settings than these; python -m pipeline rerun %s applies "
                       "them", task.paths.date, task.paths.date)


apply_defaults()
