"""Boilerplate rules as data: ``config/boilerplate.toml`` loaded and checked.

A rule names itself, explains itself, and says which lines it removes::

    [[rules]]
    name = "advertisement"
    comment = "Ad slot labels left in scraped text"
    pattern = '^(advertisement|sponsored)\\W*$'

>>> rule = LineRule.make({"name": "ad", "comment": "ads", "pattern": "^advertisement$"}, "test")
>>> rule.matches("ADVERTISEMENT"), rule.matches("An advertisement for the museum ran all week.")
(True, False)
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import regex

from pipeline import shipped
from pipeline.text import has_more_words, url_host, word_count

DEFAULT_RULES_PATH = shipped.RULES
DEFAULT_MAX_WORDS = 12
ACTIONS = ("drop", "caption")
class RulesError(ValueError):
    """The rules file is wrong; the message names the file and the rule."""


@dataclass(frozen=True)
class LineRule:
    name: str
    comment: str
    pattern: regex.Pattern
    max_words: int = DEFAULT_MAX_WORDS
    action: str = "drop"
    contains: tuple[str, ...] = ()  # fast precondition: one of these (lower case) is in the line
    # The line marks where an article ends (copyright, comments, related links): the
    # classifier's main text reaches across it only for more than [classifier]
    # barrier_penalty of text beyond it.
    barrier: bool = False

    @classmethod
    def make(cls, data: dict[str, Any], where: str) -> "LineRule":
        missing = [key for key in ("name", "comment", "pattern") if not data.get(key)]
        if missing:
            raise RulesError(f"{where}: rule {data.get('name', '?')!r} lacks {', '.join(missing)}")
        unknown = set(data) - {"name", "comment", "pattern", "max_words", "action", "contains", "barrier"}
        if unknown:
            raise RulesError(f"{where}: rule {data['name']!r} has unknown keys {sorted(unknown)}")
        action = data.get("action", "drop")
        if action not in ACTIONS:
            raise RulesError(f"{where}: rule {data['name']!r}: action must be one of {ACTIONS}")
        try:
            pattern = regex.compile(data["pattern"], regex.IGNORECASE | regex.VERSION1)
        except regex.error as error:
            raise RulesError(f"{where}: rule {data['name']!r}: bad pattern: {error}") from error
        contains = tuple(word.lower() for word in data.get("contains", ()))
        barrier = data.get("barrier", False)
        if not isinstance(barrier, bool):
            raise RulesError(f"{where}: rule {data['name']!r}: barrier must be true or false")
        return cls(
            data["name"], data["comment"], pattern, int(data.get("max_words", DEFAULT_MAX_WORDS)), action, contains,
            barrier,
        )

    def matches(self, line: str, words: int | None = None, lowered: str | None = None) -> bool:
        """Whether the rule removes this line (``words``: its word count, ``lowered``: the
        line in lower case, if known)."""
        stripped = line.strip()
        if not stripped:
            return False
        return self.removes(
            stripped, word_count(stripped) if words is None else words,
            lowered if lowered is not None else stripped.lower(),
        )

    def removes(self, stripped: str, words: int, lowered: str) -> bool:
        """``matches`` for a non-empty stripped line whose word count and lower case
        are known (the clean stage's loop): the cheap tests first, the pattern last."""
        return (
            words <= self.max_words
            and (not self.contains or any(map(lowered.__contains__, self.contains)))
            and self.pattern.search(stripped) is not None
        )


@dataclass(frozen=True)
class SiteRules:
    """Rules for one site, chosen by ``host:<domain>`` or ``file:<glob>``."""

    match: str
    comment: str
    rules: tuple[LineRule, ...] = ()
    marker: str | None = None

    def applies(self, host: str | None, file: str) -> bool:
        kind, _, value = self.match.partition(":")
        if kind == "host":
            return host is not None and (host == value or host.endswith("." + value))
        return fnmatch.fnmatchcase(file, value)


@dataclass(frozen=True)
class SiteLineSettings:
    enabled: bool = True
    share: float = 0.3
    min_pages: int = 3
    min_site_pages: int = 5
    recent_nights: int = 7


@dataclass(frozen=True)
class HtmlSettings:
    """trafilatura's settings for HTML pages (see the rules file's [html] for why)."""

    favor_precision: bool = True
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False
    # trafilatura's fast mode first (without its fallback extractors); its full mode
    # again when the fast one's text has fewer words than this (0: the full mode only).
    fast_below_words: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "fast_below_words":
                if not isinstance(self.fast_below_words, int) or isinstance(self.fast_below_words, bool) \
                        or self.fast_below_words < 0:
                    raise RulesError(f"fast_below_words = {self.fast_below_words!r}: must be a whole number, 0 or more")
            elif not isinstance(getattr(self, f.name), bool):
                raise RulesError(f"{f.name} = {getattr(self, f.name)!r}: must be true or false")
        if self.favor_precision and self.favor_recall:
            raise RulesError("favor_precision and favor_recall: at most one of them can be true")


@dataclass(frozen=True)
class ClassifierSettings:
    """Defaults are the values tuned on the boilerplate corpora (as in the toml)."""

    enabled: bool = True
    stopword_offset: float = 0.2
    punctuation_bonus: float = 0.5
    short_words: int = 4
    short_penalty: float = 2.0
    unpunctuated_penalty: float = 0.15
    navigation_penalty: float = 5.0
    good_words: int = 15
    good_stopwords: float = 0.3
    reach: int = 10
    min_evidence: int = 1
    repeated_words: int = 0
    headline_reach: int = 10
    echo_share: float = 0.9
    echo_words: int = 8
    barrier_penalty: float = 30.0
    barrier_repeats: int = 2
    cut_at: tuple[str, ...] = ()
    join_across_barriers: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.cut_at, str) or not all(isinstance(name, str) for name in self.cut_at):
            raise RulesError(f"cut_at = {self.cut_at!r}: must be a list of rule names")
        object.__setattr__(self, "cut_at", tuple(self.cut_at))
        if not 0.0 <= self.echo_share <= 1.0:
            raise RulesError(f"echo_share = {self.echo_share!r}: must be between 0 and 1 (0: off)")
        if self.echo_words < 1:
            raise RulesError(f"echo_words = {self.echo_words!r}: must be at least 1")
        if self.barrier_repeats < 0:
            raise RulesError(f"barrier_repeats = {self.barrier_repeats!r}: must be 0 or more (0: no limit)")
        if self.barrier_penalty < 0:
            raise RulesError(f"barrier_penalty = {self.barrier_penalty!r}: must be 0 or more (0: off)")


@dataclass(frozen=True)
class RuleSet:
    """The rules for one source (global, then its sites'), ready for the clean loop."""

    marker: str
    rules: tuple[LineRule, ...]
    # by_words[w]: the rules that reach a line of w words, in order; a line of more words
    # than the last index is out of every rule's reach.
    by_words: tuple[tuple[LineRule, ...], ...]

    # The answers of :meth:`removing` for lines within reach: a site prints the same
    # short lines on page after page (bylines, captions, widgets, "Read more"), so most
    # lines a rule could remove were seen before. Emptied when it holds MEMO_LINES.
    _memo: dict[str, "LineRule | None"] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def make(cls, marker: str, rules: tuple[LineRule, ...]) -> "RuleSet":
        longest = max((rule.max_words for rule in rules), default=0)
        by_words = tuple(tuple(r for r in rules if r.max_words >= words) for words in range(longest + 1))
        return cls(marker, rules, by_words)

    @property
    def longest(self) -> int:
        """The most words a line can have and still be removed by a rule."""
        return len(self.by_words) - 1

    def removing(self, line: str, stripped: str) -> "LineRule | None":
        """The first rule that removes ``line`` (not blank; ``stripped``: without its
        surrounding spaces), or None.

        >>> ad = LineRule.make({"name": "ad", "comment": "ads", "pattern": "^advertisement$"}, "t")
        >>> rules = RuleSet.make("TT", (ad,))
        >>> rules.removing("Advertisement ", "Advertisement").name, rules.removing("Adverts ran", "Adverts ran")
        ('ad', None)
        """
        known = self._memo.get(line, _UNSEEN)
        if known is not _UNSEEN:
            return known
        longest = self.longest
        if line.isascii():
            words = word_count(line, longest)  # quick for ASCII
            if words > longest:
                return None  # a paragraph longer than any rule's reach
        elif has_more_words(line, longest):
            return None
        else:
            words = word_count(line)
        lowered = line.lower()
        found = next((rule for rule in self.by_words[words] if rule.removes(stripped, words, lowered)), None)
        if len(self._memo) >= MEMO_LINES:
            self._memo.clear()
        self._memo[line] = found
        return found


MEMO_LINES = 1 << 14  # about 3 MB of lines a rule set (one per combination of sites)
_UNSEEN = object()


@dataclass(frozen=True)
class BoilerplateConfig:
    marker: str = "TT"
    rules: tuple[LineRule, ...] = ()
    sites: tuple[SiteRules, ...] = ()
    site_lines: SiteLineSettings = field(default_factory=SiteLineSettings)
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    html: HtmlSettings = field(default_factory=HtmlSettings)
    # One RuleSet per combination of sites that apply (keyed by their positions).
    _rule_sets: dict[tuple[int, ...], RuleSet] = field(default_factory=dict, init=False, compare=False, repr=False)

    def for_source(self, url: str | None, file: str) -> tuple[str, tuple[LineRule, ...]]:
        """The widget marker and the rules (global, then the site's) for one article."""
        rule_set = self.rule_set(url, file)
        return rule_set.marker, rule_set.rules

    def rule_set(self, url: str | None, file: str) -> RuleSet:
        """``for_source`` as a RuleSet, made once for each combination of sites."""
        host = url_host(url) if self.sites else None
        key = tuple(i for i, site in enumerate(self.sites) if site.applies(host, file))
        rule_set = self._rule_sets.get(key)
        if rule_set is None:
            marker, rules = self.marker, list(self.rules)
            for i in key:
                rules.extend(self.sites[i].rules)
                marker = self.sites[i].marker or marker
            rule_set = self._rule_sets[key] = RuleSet.make(marker, tuple(rules))
        return rule_set


def _section(data: dict[str, Any], cls: type, where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise RulesError(f"{where}: unknown settings {sorted(unknown)}")
    try:
        return cls(**data)
    except RulesError as error:
        raise RulesError(f"{where}: {error}") from error


def load_rules(path: Path | str | None = None) -> BoilerplateConfig:
    """Load and check a rules file (the project's ``config/boilerplate.toml`` by default)."""
    path = Path(path) if path else DEFAULT_RULES_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise RulesError(f"{path}: {error}") from error
    rules = tuple(LineRule.make(r, f"{path} [[rules]]") for r in data.get("rules", []))
    sites = []
    for site in data.get("sites", []):
        match = site.get("match", "")
        if not match.startswith(("host:", "file:")) or not site.get("comment"):
            raise RulesError(f"{path} [[sites]] {match!r}: needs match = 'host:...' or 'file:...' and a comment")
        site_rules = tuple(LineRule.make(r, f"{path} [[sites]] {match}") for r in site.get("rules", []))
        sites.append(SiteRules(match, site["comment"], site_rules, site.get("marker")))
    names = [r.name for r in rules] + [r.name for s in sites for r in s.rules]
    reserved = {"outside_main_text", "site_repeated_line", "caption", "repeated_caption", "widget_marker",
                "widget_counter", "repeated_headline", "html_boilerplate"}
    clashes = sorted({n for n in names if n in reserved})
    if clashes:
        raise RulesError(f"{path}: rule names {clashes} are the built-in rules' names")
    return BoilerplateConfig(
        marker=data.get("layout", {}).get("marker", "TT"),
        rules=rules,
        sites=tuple(sites),
        site_lines=_section(data.get("site_lines", {}), SiteLineSettings, f"{path} [site_lines]"),
        classifier=_section(data.get("classifier", {}), ClassifierSettings, f"{path} [classifier]"),
        html=_section(data.get("html", {}), HtmlSettings, f"{path} [html]"),
    )
