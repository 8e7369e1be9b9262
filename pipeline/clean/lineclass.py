"""Which lines of a scraped page are the article's text: a line classifier.

For text without the dump layout, typically a scraper's dump of a whole page, one
block a line: menus, share buttons, related links and footers around the article.

Each line gets a score from its own features (words, stop-word density in the page's
language, whether it ends like a sentence, whether it looks like navigation); the
article's main text is the stretch of lines with the largest total score (the
maximum-sum run, so a paragraph-rich stretch wins over menus before and footers
after it). Lines outside that stretch are dropped, except good paragraphs close to it
(an article split by an ad block). Settings: ``[classifier]`` in config/boilerplate.toml.

>>> page = ["Home", "News", "Sport", "Weather",
...         "The council approved the new budget on Tuesday after a long debate about the "
...         "cost of repairs to the old bridge, which has been closed since the spring.",
...         "Officials said the work would start in March and take about a year.",
...         "Privacy Policy", "Contact us"]
>>> sorted(main_text(page, ClassifierSettings(), Stoplists.default()))
[4, 5]
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import regex

from pipeline.clean.rules import ClassifierSettings
from pipeline.text import WORD, squeeze_spaces

# A sentence ends in . ! ? : … (or their CJK forms), then maybe closing quotes or
# brackets: "(Reuters)." and "he said." do; "... to market [Kansas City]" or a quoted
# headline without its full stop does not.
_SENTENCE_END_RE = regex.compile(r"[.!?:…。！？][\"”’»)\]]*\W*$")
_SEPARATORS_RE = regex.compile(r"\s[|»›•·]\s")
# Words counted for the punctuation bonus at most (a long line is good for its words).
_BONUS_WORDS = 20


# jusText's stoplist of each language code the identifier gives (``pipeline.language``).
JUSTEXT_LISTS = {
    "af": "Afrikaans", "an": "Aragonese", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "fy": "West_Frisian", "ga": "Irish", "gl": "Galician", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "ht": "Haitian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "ig": "Igbo",
    "is": "Icelandic", "it": "Italian", "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh", "kn": "Kannada",
    "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish", "lt": "Lithuanian",
    "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian_Nynorsk", "no": "Norwegian_Bokmal", "oc": "Occitan",
    "pl": "Polish", "pt": "Portuguese", "qu": "Quechua", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
    "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "vo": "Volapuk", "wa": "Walloon", "yo": "Yoruba",
}


class Stoplists:
    """Stop words of 100 languages (jusText's lists); a page uses its language's list, or
    the best-fitting one when its language has none."""

    def __init__(self, languages: dict[str, frozenset[str]]) -> None:
        self.languages = languages
        index: dict[str, list[str]] = {}
        for language, words in sorted(languages.items()):
            for word in words:
                index.setdefault(word, []).append(language)
        self._index = index

    @classmethod
    @functools.cache
    def default(cls) -> "Stoplists":
        import justext

        return cls({lang: frozenset(w.lower() for w in justext.get_stoplist(lang)) for lang in justext.get_stoplists()})

    def for_language(self, lang: str | None, tokens: Sequence[str]) -> frozenset[str]:
        """The stoplist of ``lang`` (an ISO 639 code), else :meth:`best_for` the tokens.

        >>> sorted(Stoplists({"French": frozenset({"le"}), "Italian": frozenset({"la"})})
        ...        .for_language("fr", ["la", "la"]))
        ['le']
        """
        name = JUSTEXT_LISTS.get(lang or "")
        if name in self.languages:
            return self.languages[name]
        return self.best_for(tokens)

    def best_for(self, tokens: Sequence[str]) -> frozenset[str]:
        """The stoplist with the most hits among the tokens (ties: alphabetical)."""
        hits: Counter[str] = Counter()
        for token in tokens:
            for language in self._index.get(token, ()):
                hits[language] += 1
        if not hits:
            return frozenset()
        language = min(hits, key=lambda lang: (-hits[lang], lang))
        return self.languages[language]


@dataclass(frozen=True)
class LineFeatures:
    words: int
    stopword_density: float
    sentence_end: bool
    table_row: bool
    list_item: bool
    navigation: bool


def features(line: str, stopwords: frozenset[str]) -> LineFeatures:
    stripped = line.strip()
    tokens = WORD.findall(stripped.lower())
    words = len(tokens)
    density = sum(t in stopwords for t in tokens) / words if words else 0.0
    table_row = stripped.startswith("|") and stripped.endswith("|")
    return LineFeatures(
        words=words,
        stopword_density=density,
        sentence_end=bool(_SENTENCE_END_RE.search(stripped)),
        table_row=table_row,
        list_item=words >= 3 and density > 0 and ("," in stripped or sum(c.isdigit() for c in stripped) >= 2),
        navigation=not table_row and len(_SEPARATORS_RE.findall(stripped)) >= 2,
    )


def score(f: LineFeatures, settings: ClassifierSettings) -> float:
    """A line's evidence of being article text (positive) or not (negative)."""
    if f.navigation:
        return -settings.navigation_penalty
    value = f.words * (f.stopword_density - settings.stopword_offset)
    if f.sentence_end:
        value += settings.punctuation_bonus * min(f.words, _BONUS_WORDS)
    else:
        value -= settings.unpunctuated_penalty * min(f.words, _BONUS_WORDS)
        if f.words < settings.short_words:
            value -= settings.short_penalty
    if f.table_row or f.list_item:
        value = max(value, 0.0)
    return value


def is_good_paragraph(f: LineFeatures, settings: ClassifierSettings) -> bool:
    return (
        f.words >= settings.good_words
        and f.stopword_density >= settings.good_stopwords
        and f.sentence_end
        and not f.navigation
    )


def main_text(
    lines: Sequence[str], settings: ClassifierSettings, stoplists: Stoplists, removed: set[int] = frozenset(),
    lang: str | None = None,
) -> set[int]:
    """Indexes of the lines that are the article's text (blank lines are never included).

    ``removed``: lines other rules already removed; they count as navigation (a menu
    item removed by a rule still marks where the menu is) and are never returned.
    ``lang``: the page's language (its stop words are used), if known.
    """
    stopwords = stoplists.for_language(
        lang, [t for i, line in enumerate(lines) if i not in removed for t in WORD.findall(line.lower())]
    )
    indexes = [i for i, line in enumerate(lines) if line.strip()]
    if not indexes:
        return set()
    feats = {i: features(lines[i], stopwords) for i in indexes}
    scores = [-settings.navigation_penalty if i in removed else score(feats[i], settings) for i in indexes]
    if settings.repeated_words:
        _score_repeats(lines, indexes, feats, scores, settings)
    headline = _headline(lines, indexes) if settings.headline_reach else None
    # Maximum-sum run of consecutive (non-blank) lines (Kadane).
    best_sum, best = 0.0, (0, -1)
    running, start = 0.0, 0
    for k, value in enumerate(scores):
        if running <= 0:
            running, start = 0.0, k
        running += value
        if running > best_sum:
            best_sum, best = running, (start, k)
    first, last = best
    if last < first:
        return set()
    keep = set(indexes[first : last + 1]) - removed
    if headline is not None and 0 < first - headline <= settings.headline_reach and indexes[headline] not in removed:
        keep.add(indexes[headline])
    # Good paragraphs close to the main text, on either side, join it.
    for direction, edge in ((-1, first), (1, last)):
        gap, k = 0, edge + direction
        while 0 <= k < len(indexes) and gap <= settings.reach:
            i = indexes[k]
            if i not in removed and is_good_paragraph(feats[i], settings) and scores[k] > 0:  # not a repeat
                keep.add(i)
                gap = 0
            else:
                gap += 1
            k += direction
    return keep


def _score_repeats(lines: Sequence[str], indexes: Sequence[int], feats: dict[int, LineFeatures],
                   scores: list[float], settings: ClassifierSettings) -> None:
    """A line that repeats an earlier line of the page is no evidence of the article: a
    repeated headline, teaser or the article's whole text again in the page's metadata
    scores as navigation when it has at least ``repeated_words`` words, at most 0 when
    shorter (a list's "Reply" or "Ingredients" repeated inside an article)."""
    seen: set[str] = set()
    for k, i in enumerate(indexes):
        key = squeeze_spaces(lines[i]).lower()
        if key in seen:
            if feats[i].words >= settings.repeated_words:
                scores[k] = min(scores[k], -settings.navigation_penalty)
            else:
                scores[k] = min(scores[k], 0.0)
        else:
            seen.add(key)


_TITLE_PARTS_RE = regex.compile(r"\s+[|\-–—»]\s+")


def _headline(lines: Sequence[str], indexes: Sequence[int]) -> int | None:
    """Where the page's headline is (a position in ``indexes``): a page's text starts with
    its title ("Rain at last | The Gazette"); the headline is the first later line that
    is the title's longest part (of 3 words or more), or holds it and little else.

    >>> _headline(["Rain at last in the valley | The Gazette", "Home", "Rain at last in the valley", "It rained."], [0, 1, 2, 3])
    2
    """
    parts = [part for part in _TITLE_PARTS_RE.split(squeeze_spaces(lines[indexes[0]])) if len(part.split()) >= 3]
    if not parts:
        return None
    title = max(parts, key=len).lower()
    for k in range(1, len(indexes)):
        line = squeeze_spaces(lines[indexes[k]]).lower()
        if line == title or (title in line and len(line) <= 1.3 * len(title)):
            return k
    return None

