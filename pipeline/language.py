"""Which language an article is written in: py3langid's model, read by a compiled loop.

py3langid (langid.py's maintained fork) scores byte n-grams with a naive Bayes model of
97 languages and a few dialects. Its reference ``classify`` walks the n-gram automaton
one byte at a time in Python, 2 microseconds a byte (800 BBC articles a second, slower
than the rest of the pipeline together); :func:`walk_many` does the same walk compiled,
sixteen texts side by side (a cache miss a byte each, which the CPU then fetches
together), and the scoring is py3langid's own, step for step (summed in double precision,
where py3langid sums in single), so the answer is the library's (tested equal on every
BBC article and every mojibake case; the probability to 0.0001).

>>> Identifier.shared().classify("Le conseil municipal a voté le budget de la ville mardi soir.")
('fr', 0.9892)

Codes are ISO 639-1, or ISO 639-3 where a language has no two-letter code; ``zxx``
means no linguistic content. Only the first :data:`SAMPLE_CHARS` characters are read:
every BBC article is English, at 0.99 or more, from 600 on; 1,000 take about 100
microseconds. Fewer for every text would be faster (600: 57) but change the answer on
pages that mix languages: of the 941 texts of the boilerplate sets, 3 (a German page
with Latin filler read as Latin, and its German paragraphs then judged with Latin stop
words). So the first :data:`QUICK_CHARS` are read first, and the rest only when they
leave a doubt.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pipeline.jit import numba  # without scipy.linalg: see pipeline.jit
import numpy as np

log = logging.getLogger("pipeline.language")

# Characters of a text the identifier reads.
SAMPLE_CHARS = 1000
# A first, shorter read, whose answer stands when it is this sure. Of 3,527 texts (BBC's,
# the mojibake cases, the boilerplate sets' pages in every form), the quick answer is
# the whole sample's on every one, and 3,392 stop at the quick read: 47 microseconds an
# article on average instead of 85.
QUICK_CHARS = 400
QUICK_SURE = 0.995
# The model's arrays, decompressed once (py3langid ships them xz-compressed: 0.65 s to
# load each time), are kept here: NEWSCLEAN_CACHE_DIR, else XDG_CACHE_HOME/newsclean,
# else ~/.cache/newsclean; without a writable one, the model is loaded from py3langid.
CACHE_ENV = "NEWSCLEAN_CACHE_DIR"
# Varieties the model tells apart, counted as the language with the ISO 639-1 code (their
# probabilities added): Egyptian and Moroccan Arabic are Arabic, Wu and Cantonese are
# Chinese, Southern Uzbek is Uzbek, Southern Kurdish is Kurdish, Nigerian Fulfulde is
# Fula, Paraguayan Guarani is Guarani.
MACROLANGUAGES = {"arz": "ar", "ary": "ar", "wuu": "zh", "yue": "zh", "uzs": "uz", "sdh": "ku", "fuv": "ff",
                  "gug": "gn"}
_LAYOUT = 1  # of the cached arrays (part of the cache folder's name)
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "rowbase", "out_feat")


# Texts walked at once by :func:`walk_many`. Each step of a walk waits for the row its
# last byte chose (the automaton is 39 MB, so most steps miss the CPU's caches); walks
# of different texts do not wait for each other, so the CPU fetches their rows together.
LANES = 16
# Texts identified at once at most by ``classify_many`` (its scores: 1.2 MB a thousand).
BLOCK_TEXTS = 1024


@numba.njit(cache=True, nogil=True)
def walk_many(data: np.ndarray, starts: np.ndarray, nextmove: np.ndarray, rowbase: np.ndarray,
              out_feat: np.ndarray, lanes: int):
    """:func:`walk` of each text ``data[starts[t]:starts[t + 1]]``, ``lanes`` texts at a
    time, each lane taking the next text when its own ends. Text t's features, in the
    order met and with repeats, are ``features[starts[t]:starts[t] + met[t]]``."""
    texts = len(starts) - 1
    features = np.empty(len(data), dtype=np.int32)
    met = np.zeros(texts, dtype=np.int64)
    if texts == 0:
        return features, met
    lanes = max(1, min(lanes, texts))
    text = np.empty(lanes, dtype=np.int64)  # each lane's text (-1: none left)
    position = np.empty(lanes, dtype=np.int64)
    state = np.zeros(lanes, dtype=np.int64)
    following = 0
    for lane in range(lanes):
        text[lane] = following
        position[lane] = starts[following]
        following += 1
    busy = lanes
    while busy:
        for lane in range(lanes):
            t = text[lane]
            if t < 0:
                continue
            p = position[lane]
            if p == starts[t + 1]:  # this text is walked: the lane takes the next one
                if following < texts:
                    t = following
                    following += 1
                    text[lane] = t
                    p = starts[t]
                    state[lane] = 0
                    if p == starts[t + 1]:
                        position[lane] = p
                        continue
                else:
                    text[lane] = -1
                    busy -= 1
                    continue
            s = nextmove[rowbase[state[lane]] + data[p]]
            state[lane] = s
            feature = out_feat[s]
            if feature >= 0:
                features[starts[t] + met[t]] = feature
                met[t] += 1
            position[lane] = p + 1
    return features, met


@numba.njit(cache=True, nogil=True)
def scores_many(features: np.ndarray, starts: np.ndarray, met: np.ndarray, ptc: np.ndarray, pc: np.ndarray,
                scratch: np.ndarray) -> np.ndarray:
    """Each text's class scores from its features met (:func:`walk_many`): row t is
    ``log1p(counts) @ ptc[features] + pc`` over its distinct features in the order first
    met, summed in double precision (the model's rows read in place), or zeros when it
    met none; ``scratch`` (one int32 per feature, all zero) is left zero."""
    texts, classes = len(met), ptc.shape[1]
    scores = np.zeros((texts, classes), dtype=np.float64)
    order = np.empty(int(met.max()) if texts else 0, dtype=np.int64)
    weights = np.empty(len(order), dtype=np.float64)
    for t in range(texts):
        if met[t] == 0:
            continue
        distinct = 0
        for i in range(starts[t], starts[t] + met[t]):
            feature = features[i]
            if scratch[feature] == 0:
                order[distinct] = feature
                distinct += 1
            scratch[feature] += 1
        for k in range(distinct):
            weights[k] = np.log1p(np.float64(np.float32(scratch[order[k]])))
            scratch[order[k]] = 0
        row = scores[t]
        for c in range(classes):
            row[c] = np.float64(pc[c])
        # Four features a pass over the row, added in the same order as one at a time
        # (so to the same bits): a quarter of the row's loads and stores, and four rows
        # of the model fetched together.
        k = 0
        while k + 4 <= distinct:
            p0, p1, p2, p3 = ptc[order[k]], ptc[order[k + 1]], ptc[order[k + 2]], ptc[order[k + 3]]
            w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
            for c in range(classes):
                row[c] = (((row[c] + w0 * p0[c]) + w1 * p1[c]) + w2 * p2[c]) + w3 * p3[c]
            k += 4
        for k in range(k, distinct):
            p0, w0 = ptc[order[k]], weights[k]
            for c in range(classes):
                row[c] += w0 * p0[c]
    return scores


@dataclass
class Identifier:
    """py3langid's model: per-feature class weights (``ptc``), class priors (``pc``),
    the class labels, and the byte automaton (``nextmove``, ``rowbase``, ``out_feat``)."""

    ptc: np.ndarray
    pc: np.ndarray
    classes: list[str]
    nextmove: np.ndarray
    rowbase: np.ndarray
    out_feat: np.ndarray

    @classmethod
    @functools.cache
    def shared(cls) -> "Identifier":
        """The process's identifier (loaded once; forked processes inherit it)."""
        return load()

    def __post_init__(self) -> None:
        # Plain arrays over the same memory (a memory-mapped cache stays mapped, shared
        # by forked processes): indexing a np.memmap costs 70 microseconds a call.
        for name in ("ptc", "pc", "nextmove", "rowbase", "out_feat"):
            setattr(self, name, np.asarray(getattr(self, name)))
        self._scratch = np.zeros(len(self.ptc), dtype=np.int32)
        first: dict[str, int] = {}
        self._aliases = []  # (first column, later column) of a label listed twice (a script variant)
        for i, label in enumerate(self.classes):
            if label in first:
                self._aliases.append((first[label], i))
            else:
                first.setdefault(label, i)
        self._codes = sorted({MACROLANGUAGES.get(label, label) for label in self.classes})
        self._code_of_class = np.array([self._codes.index(MACROLANGUAGES.get(label, label))
                                        for label in self.classes])

    @property
    def labels(self) -> list[str]:
        """The codes :meth:`classify` gives."""
        return list(self._codes)

    def classify(self, text: str, macro: bool = True, quick: bool = True) -> tuple[str, float]:
        """The most probable language of ``text`` and its probability (rounded to 4
        places), as py3langid's ``classify`` with normalised probabilities; with
        ``macro``, varieties count as their language (:data:`MACROLANGUAGES`).

        With ``quick``, the first :data:`QUICK_CHARS` characters are read first, and
        their answer stands when it is at least :data:`QUICK_SURE` sure; else the text
        is read up to :data:`SAMPLE_CHARS`, as without ``quick``.
        """
        if quick and len(text) > QUICK_CHARS:
            label, probability = self._classify(text[:QUICK_CHARS], macro)
            if probability >= QUICK_SURE:
                return label, probability
        return self._classify(text[:SAMPLE_CHARS], macro)

    def classify_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """:meth:`classify` of each text (with ``macro`` and ``quick``), the texts walked
        together: about twice as fast as one at a time (``python -m bench.language``)."""
        if len(texts) > BLOCK_TEXTS:  # the arrays stay small, whatever the caller gives
            return [answer for at in range(0, len(texts), BLOCK_TEXTS)
                    for answer in self.classify_many(texts[at : at + BLOCK_TEXTS])]
        answers = self._identify([text[:QUICK_CHARS] if len(text) > QUICK_CHARS else text[:SAMPLE_CHARS]
                                  for text in texts], macro=True)
        unsure = [i for i, (text, (_, probability)) in enumerate(zip(texts, answers))
                  if len(text) > QUICK_CHARS and probability < QUICK_SURE]
        for i, answer in zip(unsure, self._identify([texts[i][:SAMPLE_CHARS] for i in unsure], macro=True)):
            answers[i] = answer
        return answers

    def _classify(self, text: str, macro: bool) -> tuple[str, float]:
        return self._identify([text], macro)[0]

    def _identify(self, samples: list[str], macro: bool) -> list[tuple[str, float]]:
        """Each sample's most probable language (or variety, without ``macro``) and its
        probability, rounded to 4 places."""
        if not samples:
            return []
        data = [unicodedata.normalize("NFC", text.lower() if text.isupper() else text)
                .encode("utf-8", errors="surrogatepass") for text in samples]
        starts = np.zeros(len(data) + 1, dtype=np.int64)
        np.cumsum([len(d) for d in data], out=starts[1:])
        features, met = walk_many(np.frombuffer(b"".join(data), dtype=np.uint8), starts, self.nextmove,
                                  self.rowbase, self.out_feat, LANES)
        # No feature at all: a row of zeros, every language equally likely.
        scores = scores_many(features, starts, met, self.ptc, self.pc, self._scratch)
        # py3langid's temperature, calibrated across lengths; then normalised probabilities.
        scores *= (1.0 / np.sqrt(np.maximum(np.diff(starts), 1).astype(np.float64)))[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self._aliases:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        if macro:
            labels = self._codes
            found = np.zeros((len(samples), len(self._codes)))
            for i, code in enumerate(self._code_of_class.tolist()):
                found[:, code] += scores[:, i]
        else:
            labels, found = self.classes, scores
        best = found.argmax(axis=1)
        sure = found[np.arange(len(samples)), best]
        return [(labels[b], round(p, 4)) for b, p in zip(best.tolist(), sure.tolist())]


def load() -> Identifier:
    """The model, from the cache of decompressed arrays when there is one."""
    folder = _cache_folder()
    if folder is not None and (folder / "complete").exists():
        try:
            return _identifier({name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS})
        except (OSError, ValueError) as error:
            log.warning("language model cache %s unreadable (%s): loading the model from py3langid", folder, error)
    arrays = _from_py3langid()
    if folder is not None:
        _save(folder, arrays)
    return _identifier(arrays)


def _identifier(arrays: dict[str, np.ndarray]) -> Identifier:
    return Identifier(arrays["ptc"], arrays["pc"], [str(c) for c in arrays["classes"].tolist()],
                      arrays["nextmove"], arrays["rowbase"], arrays["out_feat"])


def _from_py3langid() -> dict[str, np.ndarray]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return {
        # float32, not the shipped float16: the same products (numpy widens float16 to
        # float32 first), five times faster.
        "ptc": np.asarray(model.nb_ptc, dtype=np.float32), "pc": np.asarray(model.nb_pc, dtype=np.float32),
        "classes": np.array(model.nb_classes),
        "nextmove": np.frombuffer(model.tk_nextmove, dtype=np.dtype(model.tk_nextmove.typecode)).copy(),
        "rowbase": np.frombuffer(model.tk_row, dtype=np.dtype(model.tk_row.typecode)).astype(np.int64) << 8,
        "out_feat": np.asarray(model.tk_output, dtype=np.int32),
    }


def _cache_folder() -> Path | None:
    """Where this py3langid version's model is kept decompressed (None: nowhere)."""
    base = os.environ.get(CACHE_ENV) or (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsclean")
    try:
        version = importlib.metadata.version("py3langid")
    except importlib.metadata.PackageNotFoundError:
        return None
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    model = Path(MODEL_DIR) / MODEL_FILE
    try:
        stat = model.stat()
    except OSError:
        return None
    tag = hashlib.sha1(f"{_LAYOUT}\0{version}\0{model}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return Path(base) / f"py3langid-{version}-{tag}"


def _save(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """The arrays as .npy files in ``folder``, which appears complete or not at all."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        for name in _ARRAYS:
            np.save(work / f"{name}.npy", arrays[name], allow_pickle=False)
        (work / "complete").touch()
        work.rename(folder)
    except OSError as error:
        log.debug("language model not cached in %s: %s", folder, error)
        # Another process may have cached it first (the rename then fails): either way
        # this run has its arrays; a leftover temporary folder is the only trace.
        try:
            for child in work.iterdir():
                child.unlink()
            work.rmdir()
        except (OSError, UnboundLocalError):
            pass
