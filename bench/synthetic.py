"""Deterministic synthetic news text for benchmarks.

Words come from a fixed vocabulary of pronounceable pseudo-words with a Zipf-like
frequency, so shingle statistics look like text: most shingles are rare, some words
are everywhere. The same seed always gives the same articles.
"""

from __future__ import annotations

import numpy as np

SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
# English function words, about 45 % of real news text: they give the synthetic text the
# stop-word density of real prose, so the boilerplate classifier treats it as prose.
FUNCTION_WORDS = (
    "the of and to a in that is was he for it with as his on be at by had are but from or have an "
    "they which one you were her all she there would their we him been has when who will more no if "
    "out so said what up its about into than them can only other new some could time these two may "
    "then do first any my now such like our over man me even most made after also did many before "
    "must through back years where much your way well down should because each just those people"
).split()
FUNCTION_SHARE = 0.45


class TextGenerator:
    def __init__(self, seed: int = 1, vocabulary: int = 20000) -> None:
        rng = np.random.default_rng(seed)
        lengths = rng.integers(1, 4, size=vocabulary)
        parts = rng.integers(0, len(SYLLABLES), size=(vocabulary, 3))
        words = {"".join(SYLLABLES[p] for p in row[:n]) + str(i % 7 or "") for i, (row, n) in enumerate(zip(parts, lengths))}
        self.words = np.array(sorted(words))
        ranks = np.arange(1, len(self.words) + 1)
        self.weights = 1.0 / ranks**1.05
        self.weights /= self.weights.sum()
        self.rng = np.random.default_rng(seed + 1)

    def article(self, words: int = 300, paragraphs: int = 5) -> tuple[str, str]:
        """A (title, text) pair: text is paragraphs separated by blank lines."""
        chosen = self.rng.choice(self.words, size=words + 8, p=self.weights)
        function = self.rng.random(words + 8) < FUNCTION_SHARE
        chosen[function] = self.rng.choice(FUNCTION_WORDS, size=int(function.sum()))
        title = " ".join(chosen[:8]).capitalize()
        body = chosen[8:]
        cuts = np.linspace(0, len(body), paragraphs + 1).astype(int)
        text = "\n\n".join(
            " ".join(body[a:b]).capitalize() + "." for a, b in zip(cuts[:-1], cuts[1:]) if b > a
        )
        return title, text

    def near_copy(self, text: str, changes: int = 2) -> str:
        """The same story updated: a few words replaced and a sentence added."""
        tokens = text.split(" ")
        for position in self.rng.choice(len(tokens), size=min(changes, len(tokens)), replace=False):
            tokens[position] = str(self.rng.choice(self.words))
        extra = " ".join(self.rng.choice(self.words, size=12, p=self.weights))
        return " ".join(tokens) + "\n\nUpdated: " + extra + "."
