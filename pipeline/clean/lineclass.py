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
from pipeline.text import reading_words, squeeze_spaces

# A sentence ends in . ! ? : … (or their forms in other scripts: CJK, Devanagari's danda,
# Arabic, Armenian, Ethiopic, Myanmar, Khmer), then maybe closing quotes or brackets:
# "(Reuters)." and "he said." do; "... to market [Kansas City]" or a quoted headline
# without its full stop does not.
_SENTENCE_END_RE = regex.compile(r"[.!?:…。！？．｡।॥۔؟։።။។][\"”’»)\]」』]*\W*$")
# Thai and Lao end a sentence with a space, not a mark: a line of these scripts with at
# least this many words (``reading_words``) ends like a sentence.
_UNMARKED_SCRIPTS_RE = regex.compile(r"[\p{Thai}\p{Lao}]")
_UNMARKED_SENTENCE_WORDS = 10
_SEPARATORS_RE = regex.compile(r"\s[|»›•·]\s")
# Words counted for the punctuation bonus at most (a long line is good for its words).
_BONUS_WORDS = 20
# An earlier line counts towards an echo when at most this many times as long as the
# line (the page's metadata, a repeated teaser); a longer one is a summary of the page.
_ECHO_LONGER = 1.5
# A line of figures: at least this many numbers, and this share of its words.
_TABLE_NUMBERS = 3
_TABLE_SHARE = 0.4


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
    "zh": "Chinese", "ja": "Japanese",
}
# jusText has no lists for the languages written without spaces, whose words the
# classifier counts a character at a time (``text.reading_words``): their stop words are
# characters. Chinese: its commonest function characters, simplified and traditional,
# less the pronouns of "contact us" and "about us" footers (我们, 關於我們). Japanese: the
# particles and the hiragana of verb endings (menus are kanji and katakana: ログイン, お知らせ).
_CHARACTER_STOPLISTS = {
    "Chinese": frozenset("的了是在和有他她它这這那不也就都而与與及对對等但被把从從之其以为為于於中上个個"
                         "到说說要会會可还還没沒很又所如因此将將已并並或该該由着著过過让讓给給向一地得"),
    "Japanese": frozenset("のにはをがでともへやかたてしまするいなだっ"),
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

        lists = {lang: frozenset(w.lower() for w in justext.get_stoplist(lang)) for lang in justext.get_stoplists()}
        return cls(lists | _CHARACTER_STOPLISTS)

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


def features(line: str, stopwords: frozenset[str], tokens: Sequence[str] | None = None) -> LineFeatures:
    """A line's features (``tokens``: its ``reading_words`` in lower case, if known)."""
    stripped = line.strip()
    if tokens is None:
        tokens = reading_words(stripped.lower())
    words = len(tokens)
    density = sum(t in stopwords for t in tokens) / words if words else 0.0
    table_row = stripped.startswith("|") and stripped.endswith("|")
    sentence_end = bool(_SENTENCE_END_RE.search(stripped)) or (
        words >= _UNMARKED_SENTENCE_WORDS and not stripped.isascii() and _unmarked_script(stripped)
    )
    return LineFeatures(
        words=words,
        stopword_density=density,
        sentence_end=sentence_end,
        table_row=table_row,
        list_item=words >= 3 and density > 0 and ("," in stripped or sum(c.isdigit() for c in stripped) >= 2),
        navigation=not table_row and len(_SEPARATORS_RE.findall(stripped)) >= 2,
    )


def _unmarked_script(line: str) -> bool:
    """Whether most of a line's letters are Thai or Lao."""
    letters = sum(1 for c in line if c.isalpha())
    return letters > 0 and len(_UNMARKED_SCRIPTS_RE.findall(line)) * 2 > letters


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
    lang: str | None = None, barriers: set[int] = frozenset(), cuts: set[int] = frozenset(),
    notes: dict[int, tuple[str, int | None]] | None = None,
) -> set[int]:
    """Indexes of the lines that are the article's text (blank lines are never included).

    ``removed``: lines other rules already removed; they count as navigation (a menu
    item removed by a rule still marks where the menu is) and are never returned.
    ``lang``: the page's language (its stop words are used), if known.
    ``barriers``: removed lines that mark where an article ends (a copyright line, a
    comments header): each scores ``-barrier_penalty``, so the main text reaches across
    one only for more text than that beyond it.
    ``cuts``: removed lines where the main text ends (the first one after its start),
    whatever follows: the rules named in ``cut_at`` (a comments header, to drop the
    comments however long).
    ``notes``, if given, gets why each line left out (not removed) is not the article's:
    ``("echo", None)``, ``("beyond", j)`` (past the barrier or cut at line ``j``),
    ``("before", j)`` or ``("after", j)`` the main text (which starts or ends at line
    ``j``), or ``("none", None)`` (no stretch scores as an article).
    """
    indexes = [i for i, line in enumerate(lines) if line.strip()]
    if not indexes:
        return set()
    tokens = {i: reading_words(lines[i].lower()) for i in indexes}
    stopwords = stoplists.for_language(lang, [t for i in indexes if i not in removed for t in tokens[i]])
    feats = {i: features(lines[i], stopwords, tokens[i]) for i in indexes}
    scores = [-settings.navigation_penalty if i in removed else score(feats[i], settings) for i in indexes]
    if settings.repeated_words:
        _score_repeats(lines, indexes, feats, scores, settings)
    echoes = _score_echoes(tokens, indexes, feats, scores, settings) if settings.echo_share else set()
    _score_number_rows(tokens, indexes, feats, scores, settings)
    for k, i in enumerate(indexes):
        if i in barriers:
            scores[k] = min(scores[k], -settings.barrier_penalty)
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
        if notes is not None:
            notes.update({i: ("none", None) for i in indexes if i not in removed})
        return set()
    if cuts:
        last = next((k - 1 for k in range(first + 1, last + 1) if indexes[k] in cuts), last)
    keep = set(indexes[first : last + 1]) - removed
    if headline is not None and 0 < first - headline <= settings.headline_reach and indexes[headline] not in removed:
        keep.add(indexes[headline])
    # Good paragraphs close to the main text, on either side, join it; not across a cut,
    # nor across a barrier unless ``join_across_barriers`` (a related-links box inside an
    # article, then its last paragraph).
    walls = cuts if settings.join_across_barriers else set(cuts) | set(barriers)
    for direction, edge in ((-1, first), (1, last)):
        gap, k = 0, edge + direction
        while 0 <= k < len(indexes) and gap <= settings.reach:
            i = indexes[k]
            if i in walls:
                break
            if i not in removed and is_good_paragraph(feats[i], settings) and scores[k] > 0:  # not a repeat
                keep.add(i)
                gap = 0
            else:
                gap += 1
            k += direction
    if notes is not None:
        _note_left_out(indexes, keep, removed, echoes, first, last, set(cuts) | set(barriers), notes)
    return keep


def _note_left_out(indexes: Sequence[int], keep: set[int], removed: set[int], echoes: set[int], first: int,
                   last: int, walls: set[int], notes: dict[int, tuple[str, int | None]]) -> None:
    """Why each line left out of ``keep`` is (see ``main_text``'s ``notes``)."""
    wall_before = wall_after = None  # the wall nearest the main text on each side
    for k in range(first - 1, -1, -1):
        if indexes[k] in walls:
            wall_before = k
            break
    for k in range(last + 1, len(indexes)):
        if indexes[k] in walls:
            wall_after = k
            break
    for k, i in enumerate(indexes):
        if i in keep or i in removed:
            continue
        if k in echoes:
            notes[i] = ("echo", None)
        elif k > last:
            after = wall_after is not None and k > wall_after
            notes[i] = ("beyond", indexes[wall_after]) if after else ("after", indexes[last])
        else:
            before = wall_before is not None and k < wall_before
            notes[i] = ("beyond", indexes[wall_before]) if before else ("before", indexes[first])


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


def _grams(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    """A line's word 4-grams (a shorter line: its words as one)."""
    if len(tokens) < 4:
        return {tuple(tokens)} if tokens else set()
    return set(zip(tokens, tokens[1:], tokens[2:], tokens[3:]))  # the tuples made in C


def _score_echoes(tokens: dict[int, list[str]], indexes: Sequence[int], feats: dict[int, LineFeatures],
                  scores: list[float], settings: ClassifierSettings) -> set[int]:
    """A line of at least ``echo_words`` words whose word 4-grams are, for ``echo_share``
    of them, in earlier lines no more than half as long again, echoes the page's text:
    the article again in its metadata (one line of all its paragraphs), the headline
    printed three times, a teaser repeated in a second list. It scores as navigation.
    An earlier line much longer than it does not count: a page that opens with a
    summary of the whole article (one long line) keeps the paragraphs after it.

    >>> page = ["The harbour wall will be rebuilt this winter, the council said.",
    ...         "Work starts in March.", "The harbour wall will be rebuilt this winter, the council said."]
    >>> scores = [10.0, 5.0, 10.0]
    >>> _score_echoes({i: reading_words(line.lower()) for i, line in enumerate(page)}, [0, 1, 2],
    ...               {i: features(line, frozenset()) for i, line in enumerate(page)}, scores, ClassifierSettings())
    {2}
    >>> scores
    [10.0, 5.0, -5.0]
    """
    shortest: dict[tuple[str, ...], int] = {}  # a 4-gram -> the fewest words of a line holding it
    echoes = set()
    for k, i in enumerate(indexes):
        words = feats[i].words
        grams = _grams(tokens[i])
        if words >= settings.echo_words and grams:
            reach = _ECHO_LONGER * words
            echoed = sum(1 for gram in grams if shortest.get(gram, reach + 1) <= reach)
            if echoed >= settings.echo_share * len(grams):
                scores[k] = min(scores[k], -settings.navigation_penalty)
                echoes.add(k)
        for gram in grams:
            if shortest.get(gram, words + 1) > words:
                shortest[gram] = words
    return echoes


def _score_number_rows(tokens: dict[int, list[str]], indexes: Sequence[int], feats: dict[int, LineFeatures],
                       scores: list[float], settings: ClassifierSettings) -> None:
    """A run of lines of figures (a box score, "San Jose State .... 19 32 - 51": at least
    3 numbers, 40 % of the words) between good paragraphs, each within ``reach`` lines,
    is a table of the article: its lines score at least 0. Figures with no body text
    around them (a page's list of dates and counts) score as they are."""
    rows = []
    for i in indexes:
        words = tokens[i]
        numbers = sum(1 for word in words if word[0].isdigit()) if len(words) >= _TABLE_NUMBERS else 0
        rows.append(numbers >= _TABLE_NUMBERS and numbers >= _TABLE_SHARE * len(words))
    if not any(rows):
        return
    good = [is_good_paragraph(feats[i], settings) and scores[k] > 0 for k, i in enumerate(indexes)]
    k = 0
    while k < len(rows):
        if not rows[k]:
            k += 1
            continue
        end = k
        while end < len(rows) and rows[end]:
            end += 1
        if any(good[max(0, k - settings.reach) : k]) and any(good[end : end + settings.reach]):
            for m in range(k, end):
                scores[m] = max(scores[m], 0.0)
        k = end


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

