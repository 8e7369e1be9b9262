"""The night's dedup step, in memory that does not follow the night: the night's
fingerprints and the earlier nights' candidates in, one decision an article out
(``stages/5-dedup/decisions.jsonl``), and what the history commit then keeps. Plain
functions: no Luigi here.

The night is held as compact arrays (``NightSigns``): per article its word count,
exact key, shingle count and LSH band fingerprints, about 200 bytes an article. An
article that shares no band fingerprint and no exact key with any other, tonight's or
an earlier night's, is kept without being looked at again, and no other can find it;
only the articles that share something are read whole (``Doc``, their shingles read
when compared), and the keep policy runs on them. Its decisions are those it would
make on the whole night: every article a shared key links is among them.
The decisions and the history commit are then written by streaming the sign folders
in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import orjson

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc
from pipeline.dedup.fingerprint import band_fingerprints
from pipeline.dedup.history import Superseded
from pipeline.dedup.policy import Pool, decide_pool, docs_pool, visit_order
from pipeline.io.arrays import ShingleCache, ShingleFile, StoredShingles
from pipeline.records import StageStats

# Articles whose signatures are turned into band fingerprints, or read whole, at a time.
CHUNK = 4096


class NightSigns:
    """The night's sign folders (``stages/4-sign/shard-NNNNN.docs``, in shard order) as
    compact arrays; an article's number is its rank, its place in the night's input order."""

    def __init__(self, folders: Sequence[Path], night: str, config: DedupConfig, published: bool = False,
                 bands: bool = True) -> None:
        """``published``: also hold each article's ``published`` (the keep policy
        ``latest``); ``bands``: the band fingerprints (what dedup needs, not a commit)."""
        self.folders, self.night, self.config = [Path(f) for f in folders], night, config
        words, exact, lengths, prints, dates, starts = [], [], [], [], [], [0]
        for folder in self.folders:
            try:
                fields = [orjson.loads(line) for line in (folder / "docs.jsonl").read_bytes().splitlines()]
                words.append(np.array([f[3] for f in fields], dtype=np.int32))
                exact.append(np.array([f[4].encode("ascii") for f in fields], dtype="S32"))
                if published:
                    dates.append(np.array([(f[6] or "").encode("utf-8") for f in fields], dtype=bytes))
                del fields
                lengths.append(np.diff(np.load(folder / "shingles.offsets.npy")))
                prints.append(_band_prints(folder, len(words[-1]) if bands else 0, config))
            except (OSError, ValueError, IndexError, TypeError, AttributeError) as error:
                raise ValueError(f"{folder}: not a readable docs folder ({error}); rerun the night") from error
            if not len(lengths[-1]) == len(words[-1]) or (bands and len(prints[-1]) != len(words[-1])):
                raise ValueError(f"{folder}: its files disagree on the number of articles; rerun the night")
            starts.append(starts[-1] + len(words[-1]))
        self.starts = np.array(starts, dtype=np.int64)
        self.words = np.concatenate(words) if words else np.empty(0, np.int32)
        self.exact = np.concatenate(exact) if exact else np.empty(0, "S32")
        self.lengths = np.concatenate(lengths) if lengths else np.empty(0, np.int64)
        self.prints = np.concatenate(prints) if prints else np.empty((0, config.bands), np.int64)
        self.published = (np.concatenate(dates) if dates else np.empty(0, "S1")) if published else None
        self.cache = ShingleCache()  # the shingles read to be compared, of every shard
        self.shingle_files: dict[int, ShingleFile] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def sharing(self, also: Iterable[int] = ()) -> np.ndarray:
        """The articles that share a band fingerprint (among those with shingles) or an
        exact key with another of tonight's, and ``also`` (those with earlier candidates),
        ascending. A band at a time: the night's fingerprints are never copied whole."""
        found = np.zeros(len(self), dtype=bool)
        found[np.fromiter(also, dtype=np.int64)] = True
        shingled = np.flatnonzero(self.lengths)
        for band in range(self.prints.shape[1]):
            found[shingled[_repeated(self.prints[shingled, band])]] = True
        found |= _repeated(self.exact)
        return np.flatnonzero(found)

    def docs(self, articles: Sequence[int], stored: bool = True) -> list[Doc]:
        """Some of the night's articles, whole, in the order asked: with their shingles
        ``stored`` (read when compared) or read now."""
        articles = np.asarray(articles, dtype=np.int64)
        shards = np.searchsorted(self.starts, articles, side="right") - 1
        out: list[Doc | None] = [None] * len(articles)
        for shard in np.unique(shards).tolist():
            where = np.flatnonzero(shards == shard)
            numbers = articles[where] - self.starts[shard]
            for position, doc in zip(where.tolist(), self._read(shard, numbers, stored)):
                out[position] = doc
        return out  # type: ignore[return-value]

    def _read(self, shard: int, numbers: np.ndarray, stored: bool) -> list[Doc]:
        """Articles of one shard's folder: their lines read in one span, their signatures
        and (unless ``stored``) shingles copied from the mapped files, which are then let go."""
        if not len(numbers):
            return []
        folder = self.folders[shard]
        offsets = np.load(folder / "docs.offsets.npy")
        first, last = int(numbers.min()), int(numbers.max())
        with open(folder / "docs.jsonl", "rb") as handle:
            handle.seek(int(offsets[first]))
            span = handle.read(int(offsets[last + 1] - offsets[first]))
        signatures = np.array(np.load(folder / "signatures.npy", mmap_mode="r")[numbers])
        if stored:
            file = self.shingle_files.get(shard) or self.shingle_files.setdefault(shard, ShingleFile(folder, self.cache))
            shingles = [StoredShingles(file, number) for number in numbers.tolist()]
        else:
            bounds = np.load(folder / "shingles.offsets.npy")
            mapped = np.load(folder / "shingles.npy", mmap_mode="r")
            shingles = [np.array(mapped[bounds[n] : bounds[n + 1]]) for n in numbers.tolist()]
            del mapped
        docs = []
        base = int(offsets[first])
        for i, number in enumerate(numbers.tolist()):
            key, doc_id, _rank, n_words, exact, title, published = orjson.loads(
                span[int(offsets[number]) - base : int(offsets[number + 1]) - base])
            docs.append(Doc(key=key, id=doc_id, night=self.night, rank=int(self.starts[shard]) + number,
                            n_words=n_words, exact=exact, shingles=shingles[i], signature=signatures[i],
                            title=title, published=published))
        return docs

    def lines(self) -> Iterator[tuple[str, str, str | None]]:
        """Each article's key, id and title, in order."""
        for folder in self.folders:
            with open(folder / "docs.jsonl", "rb") as handle:
                for line in handle:
                    key, doc_id, _rank, _words, _exact, title = orjson.loads(line)[:6]
                    yield key, doc_id, title

    def in_priority(self, kept: np.ndarray, keep: str) -> np.ndarray:
        """The ``kept`` articles (a mask) in the keep policy's order (``policy.visit_order``)."""
        numbers = np.flatnonzero(kept)
        nights = np.repeat(np.array([self.night.encode()]), len(numbers))
        published = None if self.published is None else self.published[numbers]
        return numbers[visit_order(keep, nights, numbers, self.words[numbers], published)]


def _band_prints(folder: Path, count: int, config: DedupConfig) -> np.ndarray:
    """A folder's band fingerprints (articles x bands), its signatures read a chunk at a time."""
    out = np.empty((count, config.bands), dtype=np.int64)
    if count:
        signatures = np.load(folder / "signatures.npy", mmap_mode="r")
        if len(signatures) != count:
            raise ValueError(f"{len(signatures)} signatures for {count} articles")
        for start in range(0, count, CHUNK):
            out[start : start + CHUNK] = band_fingerprints(np.array(signatures[start : start + CHUNK]), config)
        del signatures
    return out


def _repeated(values: np.ndarray) -> np.ndarray:
    """Whether each value occurs more than once in ``values``."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(len(values), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    out = np.empty(len(values), dtype=bool)
    out[order] = repeated
    return out


class NightResult:
    """The keep policy's decisions on the night: on a pool (``policy.Pool``) of the
    articles that share something, tonight's (by number) and the earlier nights'
    candidates of each (``earlier``: by article number)."""

    def __init__(self, signs: NightSigns, numbers: np.ndarray, earlier: dict[int, list[Doc]]) -> None:
        self.signs, self.numbers = signs, numbers
        config = signs.config
        history: dict[str, Doc] = {}
        for number in sorted(earlier):
            for doc in earlier[number]:
                history.setdefault(doc.key, doc)
        self.history = list(history.values())
        self.pool = _pool(signs, numbers, self.history)
        self.decided = decide_pool(self.pool, config)
        tonight = len(numbers)
        self.targets = {}  # the members others duplicate: (id, key, night)
        wanted = sorted({int(t) for t in self.decided.dup_of if t >= 0})
        mine = [t for t in wanted if t < tonight]
        for member, doc in zip(mine, signs.docs(numbers[mine], stored=True)):
            self.targets[member] = (doc.id, doc.key, doc.night)
        for member in (t for t in wanted if t >= tonight):
            doc = self.history[member - tonight]
            self.targets[member] = (doc.id, doc.key, doc.night)

    def _match(self, member: int) -> dict[str, Any]:
        target = int(self.decided.dup_of[member])
        dup_id, dup_key, dup_night = self.targets[target]
        return {"dup_of": dup_id, "dup_of_key": dup_key, "dup_of_night": dup_night,
                "similarity": float(self.decided.similarity[member]),
                "method": "exact" if self.decided.exact[member] else "minhash"}

    def decisions(self) -> Iterator[dict[str, Any]]:
        """One decision an article in input order, then the earlier nights' articles
        tonight's superseded (in the order the policy visited them)."""
        night, dup_of = self.signs.night, self.decided.dup_of
        numbers, member = self.numbers.tolist(), 0  # ascending: walked beside the articles
        for number, (key, doc_id, title) in enumerate(self.signs.lines()):
            while member < len(numbers) and numbers[member] < number:
                member += 1
            if member < len(numbers) and numbers[member] == number and dup_of[member] >= 0:
                yield {"key": key, "id": doc_id, "night": night, "status": "duplicate", **self._match(member),
                       "title": title}
            else:
                yield {"key": key, "id": doc_id, "night": night, "status": "kept"}
        tonight = len(numbers)
        for member in self.pool.visit_order(self.signs.config.keep).tolist():
            if member >= tonight and dup_of[member] >= 0:
                doc = self.history[member - tonight]
                yield {"key": doc.key, "id": doc.id, "night": doc.night, "status": "superseded",
                       **self._match(member), "title": doc.title}

    def stats(self, since: str | None, history: str) -> StageStats:
        """The dedup stage's counts (the report's ``duplicates`` and ``dedup``)."""
        config, tonight = self.signs.config, len(self.numbers)
        dropped = np.flatnonzero(self.decided.dup_of[:tonight] >= 0)
        exact = int(self.decided.exact[dropped].sum())
        return StageStats({
            "articles_in": len(self.signs), "kept": len(self.signs) - len(dropped),
            "duplicates": {"exact": exact, "minhash": len(dropped) - exact},
            "of_earlier_nights": int((self.decided.dup_of[dropped] >= tonight).sum()),
            "superseded": int((self.decided.dup_of[tonight:] >= 0).sum()),
            "history_candidates": len(self.history),
            "threshold": config.threshold, "num_perm": config.num_perm, "shingle_size": config.shingle_size,
            "bands": config.bands, "rows": config.rows, "keep": config.keep, "history": history,
            "history_since": since,
        })


def _pool(signs: NightSigns, numbers: np.ndarray, history: Sequence[Doc]) -> Pool:
    """Tonight's articles ``numbers``, then the earlier nights' ``history``, as a pool."""
    config = signs.config
    old = docs_pool(history, config)
    old.tonight[:] = False
    files = signs.shingle_files
    cache = signs.cache
    shard_of = np.searchsorted(signs.starts, numbers, side="right") - 1
    tonight = len(numbers)

    def shingles(member: int) -> np.ndarray:
        if member >= tonight:
            return old.shingles(member - tonight)
        shard = int(shard_of[member])
        file = files.get(shard) or files.setdefault(shard, ShingleFile(signs.folders[shard], cache))
        return file.read(int(numbers[member] - signs.starts[shard]), keep=False)  # the arena keeps them

    published = np.concatenate([signs.published[numbers], old.published]) if config.keep == "latest" else None
    descriptors = np.full(tonight + len(history), -1, dtype=np.int64)
    places = np.zeros(tonight + len(history), dtype=np.int64)
    for shard in np.unique(shard_of).tolist():
        file = files.get(shard) or files.setdefault(shard, ShingleFile(signs.folders[shard], cache))
        where = np.flatnonzero(shard_of == shard)
        descriptors[where] = file.handle.fileno()
        places[where] = file.start + 8 * file.offsets[numbers[where] - signs.starts[shard]]
    return Pool(
        night=np.concatenate([np.repeat(np.array([signs.night.encode()]), tonight), old.night]),
        rank=np.concatenate([numbers, old.rank]),
        n_words=np.concatenate([signs.words[numbers].astype(np.int64), old.n_words]),
        published=published,
        exact=np.concatenate([signs.exact[numbers], old.exact]),
        lengths=np.concatenate([signs.lengths[numbers], old.lengths]),
        tonight=np.concatenate([np.ones(tonight, dtype=np.bool_), old.tonight]),
        bands=config.bands,
        band=lambda band: np.concatenate([signs.prints[numbers, band], old.band(band)]),
        shingles=shingles,
        files=descriptors,
        places=places,
    )


def decide(signs: NightSigns, earlier_of: Callable[[NightSigns], dict[int, list[Doc]]]) -> NightResult:
    """The night's decisions: the earlier nights' candidates of each article looked up
    (``earlier_of(signs)``: by article number), then the keep policy on the articles
    that share something."""
    found = earlier_of(signs)
    return NightResult(signs, signs.sharing(found), found)


class KeptDocs:
    """Tonight's kept articles in the order the history commit writes them (the keep
    policy's), read from the sign folders a chunk at a time as they are written."""

    def __init__(self, signs: NightSigns, order: np.ndarray) -> None:
        self.signs, self.order = signs, order

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[Doc]:
        for start in range(0, len(self.order), CHUNK):
            yield from self.signs.docs(self.order[start : start + CHUNK], stored=False)


def kept_for_history(signs: NightSigns, decisions: Iterable[dict[str, Any]],
                     keep: str) -> tuple[KeptDocs, list[Superseded]]:
    """What the night's history commit holds: its kept articles, in the order dedup
    visited them (its keep policy's), and the earlier articles they superseded. The
    decisions must be the night's, article for article (else ``ValueError``)."""
    kept = np.zeros(len(signs), dtype=bool)
    superseded = []
    keys = signs.lines()
    number = 0
    for decision in decisions:
        if decision["status"] == "superseded":
            superseded.append(Superseded(decision["night"], decision["key"], decision["dup_of_key"]))
            continue
        key, _id, _title = next(keys, (None, None, None))
        if key != decision["key"]:
            raise ValueError(f"decision {number + 1} is for {decision['key']!r}, the sign stage's article "
                             f"{number + 1} is {key!r}; rerun the night")
        kept[number] = decision["status"] == "kept"
        number += 1
    if number != len(signs):
        raise ValueError(f"{number} decisions for {len(signs)} articles; rerun the night")
    return KeptDocs(signs, signs.in_priority(kept, keep)), superseded

