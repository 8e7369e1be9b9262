"""Remove boilerplate lines from an article, and account for every line removed.

Rules run in order (see config/boilerplate.toml): the built-in layout rules, the
configured line rules (global, then the site's), lines the site repeats on many
pages (``sitelines``), and for text without the layout the line classifier
(``lineclass``). The built-in layout rules undo the news-site dump layout (see
``segment``)::

    Caption (AFP)          caption             -> moved into `captions`
    Caption (AFP)          repeated_caption    -> dropped, it is in `captions` once
    TT                     widget_marker       -> dropped
    20                     widget_counter      -> dropped (only right after a marker)
    Headline               repeated_headline   -> dropped, it is the `title`
    Caption (AFP)          repeated_caption    -> dropped
    Body paragraph.        kept

Every removed line becomes a :class:`Removal` naming its rule, so a user can ask
why a sentence is missing. Body lines that are only a number (a score, an
attendance) are body: only the line right after a marker is a widget counter.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from pipeline.clean.lineclass import Stoplists, main_text
from pipeline.clean.rules import BoilerplateConfig
from pipeline.clean.sitelines import line_hashes_of_texts
from pipeline.language import SAMPLE_CHARS, Identifier
from pipeline.read.segment import MARKER, is_counter
from pipeline.records import Article, Rejection, excerpt
from pipeline.text import clip, has_more_words, site_of, squeeze_spaces, word_count

STAGE = "clean"


class Removal(NamedTuple):
    """One line taken out of an article: which rule, which line of the source, what text."""

    rule: str
    line: int | None
    text: str
    detail: str | None = None  # the classifier's why, for outside_main_text


@dataclass
class Cleaned:
    """An article's body after boilerplate removal."""

    text: str
    captions: list[str] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)
    lang: str | None = None
    confidence: float | None = None

    def counts(self) -> dict[str, int]:
        """Lines removed per rule, rules in order of first use."""
        out: dict[str, int] = {}
        for removal in self.removed:
            out[removal.rule] = out.get(removal.rule, 0) + 1
        return out


def _key(line: str) -> str:
    """Lines compare equal when they differ only in surrounding or repeated spaces."""
    return squeeze_spaces(line)


def join_paragraphs(lines: Sequence[str]) -> str:
    """Body lines to text: paragraphs separated by one blank line, trailing spaces gone.

    >>> join_paragraphs(["", "One.  ", "still one", "", "", "Two.", ""])
    'One.\\nstill one\\n\\nTwo.'
    """
    # Blank lines become empty ones; a run of them is then one blank line.
    text = "\n".join([line.rstrip() for line in lines]).strip("\n")
    return _BLANK_RUN.sub("\n\n", text) if "\n\n\n" in text else text


_BLANK_RUN = re.compile(r"\n{3,}")


def layout_rules(
    title: str | None, lines: Sequence[str], marker: str = MARKER, stripped: Sequence[str] | None = None
) -> tuple[dict[int, str], list[str]]:
    """The built-in layout rules: which lines they remove (index -> rule), and the captions.

    >>> dropped, captions = layout_rules("Title", ["", "Cap.", "Cap.", "TT", "20", "", "Title", "",
    ...                                            "Cap.", "Cap.", "", "Body 1.", "", "3", ""])
    >>> [lines for lines in sorted(dropped.items())], captions
    ([(1, 'caption'), (2, 'repeated_caption'), (3, 'widget_marker'), (4, 'widget_counter'), \
(6, 'repeated_headline'), (8, 'repeated_caption'), (9, 'repeated_caption')], ['Cap.'])
    """
    captions: list[str] = []
    dropped: dict[int, str] = {}
    title_key = _key(title) if title else None
    if stripped is None:
        stripped = [line.strip() for line in lines]
    markers: list[int] = []
    try:
        while True:
            markers.append(stripped.index(marker, markers[-1] + 1 if markers else 0))
    except ValueError:
        pass
    first_marker = markers[0] if markers else None
    if first_marker is None:
        # No layout: a text that starts with its own headline.
        first = next((j for j, line in enumerate(stripped) if line), None)
        if title_key and first is not None and _key(lines[first]) == title_key:
            dropped[first] = "repeated_headline"
        return dropped, captions
    # Above the first marker: the captions, each usually printed twice.
    seen: set[str] = set()
    for j in range(first_marker):
        if not stripped[j]:
            continue
        key = _key(lines[j])
        if key in seen:
            dropped[j] = "repeated_caption"
        else:
            seen.add(key)
            captions.append(key)
            dropped[j] = "caption"
    # Every marker, and the counter right after it.
    for j in markers:
        dropped[j] = "widget_marker"
        if j + 1 < len(lines) and is_counter(lines[j + 1]):
            dropped[j + 1] = "widget_counter"
    # After the first marker: the headline again, then the captions again.
    j = first_marker + 1
    while j < len(lines) and (j in dropped or not stripped[j]):
        j += 1
    if j < len(lines) and title_key and _key(lines[j]) == title_key:
        dropped[j] = "repeated_headline"
        j += 1
    while j < len(lines):
        if stripped[j]:
            if _key(lines[j]) not in seen:
                break
            dropped[j] = "repeated_caption"
        j += 1
    return dropped, captions


LAYOUT_RULES = frozenset(
    {"caption", "repeated_caption", "widget_marker", "widget_counter", "repeated_headline"}
)


@dataclass
class CleanContext:
    """What the clean stage knows beyond one article: rules, site boilerplate, minimum."""

    config: BoilerplateConfig
    site_boilerplate: dict[str, set[int]] = field(default_factory=dict)  # line_hash values per site
    min_words: int = 1
    stoplists: Stoplists | None = None  # loaded when the classifier first runs
    languages: tuple[str, ...] = ()  # the languages kept (empty: all)


def clean_lines(
    title: str | None,
    lines: Sequence[str],
    line_numbers: Sequence[int | None],
    context: CleanContext,
    url: str | None = None,
    file: str = "",
    line_hashes: np.ndarray | None = None,
) -> Cleaned:
    """All rules in order (layout, configured rules, site lines, classifier) on one article.

    >>> from pipeline.clean.rules import load_rules
    >>> c = clean_lines("Title", ["Share on Facebook", "The first real sentence of the story.",
    ...                           "Advertisement", "The second one, also real."], [1, 2, 3, 4],
    ...                 CleanContext(load_rules()))
    >>> c.text
    'The first real sentence of the story.\\nThe second one, also real.'
    >>> [(r.rule, r.line) for r in c.removed]
    [('share_widget', 1), ('advertisement', 3)]
    """
    ruled = rule_lines(title, lines, context, url, file, line_hashes)
    return finish_lines(ruled, lines, line_numbers, context, Identifier.shared().classify(ruled.sample))


@dataclass
class Ruled:
    """An article's lines after the rules (layout, configured, site lines): which are
    dropped and why, the captions found, and the sample its language is read from."""

    dropped: dict[int, str]
    captions: list[str]
    stripped: list[str]
    has_layout: bool
    sample: str
    barriers: set[int]  # lines dropped by a rule that marks where an article ends


def rule_lines(
    title: str | None,
    lines: Sequence[str],
    context: CleanContext,
    url: str | None = None,
    file: str = "",
    line_hashes: np.ndarray | None = None,
) -> Ruled:
    """The rules before the classifier: layout, configured rules, site lines."""
    config = context.config
    rule_set = config.rule_set(url, file)
    stripped = [line.strip() for line in lines]
    dropped, captions = layout_rules(title, lines, rule_set.marker, stripped)
    has_layout = any(rule == "widget_marker" for rule in dropped.values())
    barriers: set[int] = set()
    for j, line in enumerate(lines):
        if j in dropped or not stripped[j]:
            continue
        rule = rule_set.removing(line, stripped[j])
        if rule is not None:
            dropped[j] = rule.name
            if rule.barrier:
                barriers.add(j)
            if rule.action == "caption":
                caption = _key(line)
                if caption not in captions:
                    captions.append(caption)
    repeated = context.site_boilerplate.get(site_of(url, file), set())
    if repeated:
        if line_hashes is None:
            line_hashes = line_hashes_of_texts(["\n".join(lines)])[0]
        for j, line_hash in enumerate(line_hashes.tolist()):
            if j not in dropped and stripped[j] and line_hash in repeated:
                dropped[j] = "site_repeated_line"
    # The language is read from what the rules left (menus and widgets are often
    # English on any site); the classifier then uses its stop words.
    sample = _sample([line for j, line in enumerate(lines) if j not in dropped and stripped[j]])
    most = config.classifier.barrier_repeats
    if most and barriers:  # a line printed again and again separates repeated items
        texts = {j: _key(stripped[j]).lower() for j in barriers}
        printed = Counter(texts.values())
        barriers = {j for j in barriers if printed[texts[j]] <= most}
    return Ruled(dropped, captions, stripped, has_layout, sample, barriers)


def finish_lines(
    ruled: Ruled,
    lines: Sequence[str],
    line_numbers: Sequence[int | None],
    context: CleanContext,
    language: tuple[str, float],
) -> Cleaned:
    """The classifier, with the article's ``language`` (code, confidence), then the
    article's body."""
    config = context.config
    dropped, stripped = ruled.dropped, ruled.stripped
    lang, confidence = language
    evidence = sum(1 for rule in dropped.values() if rule not in LAYOUT_RULES)
    notes: dict[int, tuple[str, int | None]] = {}
    if not ruled.has_layout and config.classifier.enabled and evidence >= config.classifier.min_evidence:
        if context.stoplists is None:
            context.stoplists = Stoplists.default()
        cuts = {j for j, rule in dropped.items() if rule in config.classifier.cut_at}
        keep = main_text(lines, config.classifier, context.stoplists, removed=set(dropped), lang=lang,
                         barriers=ruled.barriers, cuts=cuts, notes=notes)
        for j, line in enumerate(lines):
            if stripped[j] and j not in keep and j not in dropped:
                dropped[j] = "outside_main_text"
    details = {j: _detail(note, dropped, lines) for j, note in notes.items()}
    removed = [Removal(dropped[j], line_numbers[j], lines[j], details.get(j)) for j in sorted(dropped)]
    body = [line for j, line in enumerate(lines) if j not in dropped]
    return Cleaned(text=join_paragraphs(body), captions=ruled.captions, removed=removed, lang=lang,
                   confidence=confidence)


def _detail(note: tuple[str, int | None], dropped: dict[int, str], lines: Sequence[str]) -> str:
    """A line the classifier left out, and why, in words (``removed.jsonl``'s ``detail``);
    the lines it refers to are quoted (a JSONL record's lines all have the record's line
    number).

    >>> _detail(("beyond", 1), {1: "copyright"}, ["It rained.", "© 2026 The Valley Post"])
    'beyond "© 2026 The Valley Post" (copyright), which the main text does not cross'
    """
    kind, j = note
    quoted = '"' + clip(lines[j], _QUOTED_CHARS) + '"' if j is not None else ""
    if kind == "echo":
        return "repeats earlier text of the page"
    if kind == "beyond":
        return f"beyond {quoted} ({dropped.get(j, '?')}), which the main text does not cross"
    if kind == "before":
        return f"before the main text, which starts at {quoted}"
    if kind == "after":
        return f"after the main text, which ends at {quoted}"
    return "no stretch of the page scores as an article's text"


# Characters of a line quoted in a ``detail`` at most.
_QUOTED_CHARS = 60


def _sample(lines: Sequence[str]) -> str:
    """What the identifier reads of an article (``language.SAMPLE_CHARS``): its longest
    lines, in their order. An article's sentences are its long lines; a page's menus,
    widgets and template filler are short ones, often in another language.

    >>> len(_sample(["Home"] + ["Le conseil municipal a voté le budget mardi."] * 30 + ["Login"]))
    1034
    >>> _sample(["Home"] + ["Le conseil municipal a voté le budget mardi."] * 30 + ["Login"])[:9]
    'Le consei'
    """
    ranked = sorted(range(len(lines)), key=lambda i: (-len(lines[i]), i))
    chosen, size = [], 0
    for i in ranked:
        chosen.append(i)
        size += min(len(lines[i]), _SAMPLE_LINE) + 1
        if size >= SAMPLE_CHARS:
            break
    return "\n".join(lines[i][:_SAMPLE_LINE] for i in sorted(chosen))


# Characters of one line in the sample at most: a few paragraphs decide, not one long
# list of names.
_SAMPLE_LINE = 250


def clean_article(
    article: Article, context: CleanContext, line_hashes: np.ndarray | None = None
) -> tuple[Article, list[Removal], Rejection | None]:
    """Remove boilerplate from an article in place (``line_hashes``: its text's lines'
    ``line_hash``, if known).

    Returns the article, its removed lines, and a rejection when what is left is
    shorter than ``context.min_words`` words (the removed lines are returned either
    way, so that a rejected article's text is still accountable).
    """
    lines = article.text.split("\n")
    cleaned = clean_lines(
        article.title, lines, article.lines_of(len(lines)), context,
        url=article.url, file=article.source["file"], line_hashes=line_hashes,
    )
    return _cleaned_article(article, cleaned, context)


def _cleaned_article(
    article: Article, cleaned: Cleaned, context: CleanContext
) -> tuple[Article, list[Removal], Rejection | None]:
    """The article with its clean text, and its rejection if it has one."""
    article.text = cleaned.text
    article.captions = article.captions + [c for c in cleaned.captions if c not in article.captions]
    article.fixes["removed_lines"] = {**article.fixes.get("removed_lines", {}), **cleaned.counts()}
    article.lang = cleaned.lang
    rejection = None
    if context.languages and cleaned.lang not in context.languages:
        rejection = Rejection(
            file=article.source["file"],
            reason=f"language {cleaned.lang} ({cleaned.confidence:.2f} sure) not among the languages kept "
                   f"({', '.join(context.languages)})",
            stage=STAGE, line=article.source.get("line"), id=article.id,
            excerpt=excerpt(article.title or article.text), lang=cleaned.lang, confidence=cleaned.confidence,
        )
    elif context.min_words > 0 and not has_more_words(article.text, context.min_words - 1):
        words = word_count(article.text)
        rejection = Rejection(
            file=article.source["file"],
            reason=f"too short after cleaning: {words} word(s), minimum {context.min_words}",
            stage=STAGE,
            line=article.source.get("line"),
            id=article.id,
            excerpt=excerpt(article.title or article.text),
        )
    return article, cleaned.removed, rejection


def clean_records(
    records: Sequence[dict], context: CleanContext
) -> list[tuple[dict, list[Removal], Rejection | None]]:
    """``clean_article`` over article records (dicts, as the stage files hold them).

    The line hashes of the articles whose site has repeated lines are computed first,
    for all of them at once."""
    articles = [Article.from_dict(record) for record in records]
    repeating = [i for i, a in enumerate(articles)
                 if context.site_boilerplate.get(site_of(a.url, a.source["file"]))]
    hashes: list[np.ndarray | None] = [None] * len(articles)
    for i, article_hashes in zip(repeating, line_hashes_of_texts([articles[i].text for i in repeating])):
        hashes[i] = article_hashes
    # The rules for every article, then every article's language at once (the
    # identifier walks the texts side by side: ``Identifier.classify_many``), then the
    # classifier and the rest.
    lines_of = [article.text.split("\n") for article in articles]
    ruled = [rule_lines(a.title, lines, context, a.url, a.source["file"], line_hashes)
             for a, lines, line_hashes in zip(articles, lines_of, hashes)]
    identifier = Identifier.shared()
    languages = identifier.classify_many([r.sample for r in ruled])
    out = []
    for article, lines, r, language in zip(articles, lines_of, ruled, languages):
        cleaned = finish_lines(r, lines, article.lines_of(len(lines)), context, language)
        article, removed, rejection = _cleaned_article(article, cleaned, context)
        out.append((article.to_dict(), removed, rejection))
    return out
