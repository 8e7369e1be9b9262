"""The night's dedup step: the night's fingerprints and the earlier nights' candidates
in, one decision an article out (``stages/5-dedup/decisions.jsonl``), and what the
history commit then keeps. Plain functions: no Luigi here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import DedupResult, Doc, Match
from pipeline.dedup.history import Superseded
from pipeline.dedup.policy import deduplicate, priority
from pipeline.io.arrays import load_docs
from pipeline.records import StageStats


def night_docs(folders: Sequence[Path], night: str) -> list[Doc]:
    """The night's fingerprinted articles, shard after shard, ranked in that order."""
    docs = [doc for folder in folders for doc in load_docs(folder, night)]
    for rank, doc in enumerate(docs):
        doc.rank = rank
    return docs


def decide(docs: Sequence[Doc], config: DedupConfig, night: str,
           earlier: dict[str, list[Doc]]) -> tuple[list[dict[str, Any]], DedupResult]:
    """The night's decisions, one an article in input order (then the earlier nights'
    articles tonight's superseded), given the earlier nights' candidates per article."""
    result = deduplicate(docs, config, history=lambda d: earlier.get(d.key, ()))
    decisions = []
    for doc in docs:
        match = result.dropped.get(doc.key)
        decisions.append({"key": doc.key, "id": doc.id, "night": night, "status": "kept"} if match is None
                         else _decision(doc, "duplicate", match))
    decisions.extend(_decision(doc, "superseded", match) for doc, match in result.superseded)
    return decisions, result


def _decision(doc: Doc, status: str, match: Match) -> dict[str, Any]:
    return {
        "key": doc.key, "id": doc.id, "night": doc.night, "status": status,
        "dup_of": match.dup_of.id, "dup_of_key": match.dup_of.key, "dup_of_night": match.dup_of.night,
        "similarity": match.similarity, "method": match.method, "title": doc.title,
    }


def dedup_stats(docs: Sequence[Doc], result: DedupResult, earlier: dict[str, list[Doc]], config: DedupConfig,
                since: str | None, history: str) -> StageStats:
    """The dedup stage's counts (the report's ``duplicates`` and ``dedup``)."""
    night = docs[0].night if docs else None
    methods = [m.method for m in result.dropped.values()]
    return StageStats({
        "articles_in": len(docs), "kept": len(result.kept),
        "duplicates": {"exact": methods.count("exact"), "minhash": methods.count("minhash")},
        "of_earlier_nights": sum(m.dup_of.night != night for m in result.dropped.values()),
        "superseded": len(result.superseded),
        "history_candidates": len({d.key for found in earlier.values() for d in found}),
        "threshold": config.threshold, "num_perm": config.num_perm, "shingle_size": config.shingle_size,
        "bands": config.bands, "rows": config.rows, "keep": config.keep, "history": history, "history_since": since,
    })


def kept_for_history(docs: Sequence[Doc], decisions: Iterable[dict[str, Any]],
                     keep: str) -> tuple[list[Doc], list[Superseded]]:
    """What the night's history commit holds: its kept articles, in the order dedup
    visited them (its keep policy's), and the earlier articles they superseded."""
    status = {d["key"]: d for d in decisions}
    kept = sorted((d for d in docs if status[d.key]["status"] == "kept"), key=priority(keep))
    superseded = [Superseded(d["night"], d["key"], d["dup_of_key"]) for d in status.values()
                  if d["status"] == "superseded"]
    return kept, superseded
