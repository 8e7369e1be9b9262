"""The ``[pipeline]`` settings: defaults shipped with the package, overridden by Luigi's own
configuration files and flags, and checked before a night does any work.

Where a value comes from, lowest priority first:

1. the shipped ``config/luigi.cfg`` (package data, see ``shipped``);
2. ``config/luigi.cfg`` in the working folder, if there is one (a project checkout);
3. Luigi's configuration files: ``/etc/luigi/luigi.cfg``, ``luigi.cfg`` in the working
   folder, ``LUIGI_CONFIG_PATH``;
4. flags: ``raw_dir`` is ``--pipeline-raw-dir``.

The first two fill in only what no file of Luigi's sets (:func:`apply_defaults`), so
the shipped exit codes (``[retcode]``) and log level are in force whatever the
install, and anything a user writes wins. Every setting is checked when first read:
a value out of range, or an unknown key (a typo such as ``treshold``), stops the run
with one line naming it (:func:`check`).
"""

from __future__ import annotations

import configparser
import datetime as dt
import difflib
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import luigi
import luigi.configuration

from pipeline import shipped
from pipeline.dedup.config import KEEP_POLICIES, DedupConfig
from pipeline.report.nightdata import NIGHT_RE

SECTION = "pipeline"
CHECKOUT_CONFIG = Path("config") / "luigi.cfg"


class SettingError(ValueError):
    """A setting's value is wrong; the message names the setting and the value."""


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return parser


_SHIPPED = _read(shipped.CONFIG)


def _spellings(key: str) -> tuple[str, str]:
    return key.replace("-", "_"), key.replace("_", "-")


def apply_defaults() -> None:
    """Fill in Luigi's configuration, option by option, from a checkout's
    ``config/luigi.cfg`` and then the shipped one, where no other source sets it."""
    config = luigi.configuration.get_config()
    layers = [_read(CHECKOUT_CONFIG)] if CHECKOUT_CONFIG.is_file() else []
    for layer in [*layers, _SHIPPED]:
        for section in layer.sections():
            if not config.has_section(section):
                config.add_section(section)
            for key, value in layer.items(section, raw=True):
                if not any(config.has_option(section, k) for k in _spellings(key)):
                    config.set(section, key, value)


# --- the settings, each checked as it is parsed ---------------------------------------------


class _Checked:
    """A ``[pipeline]`` setting whose value is parsed and checked; errors name it."""

    expected = "a value"

    def __set_name__(self, owner: type, name: str) -> None:
        super().__set_name__(owner, name)
        self.setting = name

    def parse(self, x: str) -> Any:
        try:
            value = super().parse(x)
        except ValueError:
            raise SettingError(f"[{SECTION}] {self.setting} = {x!r}: expected {self.expected}") from None
        problem = self.problem(value)
        if problem:
            raise SettingError(f"[{SECTION}] {self.setting} = {x!r}: {problem}")
        return value

    def problem(self, value: Any) -> str | None:
        return None


class IntSetting(_Checked, luigi.IntParameter):
    expected = "a whole number"

    def __init__(self, description: str, minimum: int = 0, **kwargs: Any) -> None:
        super().__init__(description=description, **kwargs)
        self.minimum = minimum

    def problem(self, value: int) -> str | None:
        return f"must be at least {self.minimum}" if value < self.minimum else None


class FractionSetting(_Checked, luigi.FloatParameter):
    """A number in (0, 1] (or (0, 1) when ``below_one``)."""

    expected = "a number"

    def __init__(self, description: str, below_one: bool = False, **kwargs: Any) -> None:
        super().__init__(description=description, **kwargs)
        self.below_one = below_one

    def problem(self, value: float) -> str | None:
        if 0.0 < value < 1.0 or (value == 1.0 and not self.below_one):
            return None
        return "must be between 0 and 1 (" + ("both excluded)" if self.below_one else "0 excluded)")


class ChoiceSetting(_Checked, luigi.Parameter):
    def __init__(self, description: str, choices: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(description=description, **kwargs)
        self.choices = choices

    def problem(self, value: str) -> str | None:
        return None if value in self.choices else f"must be one of {', '.join(self.choices)}"


class TextSetting(_Checked, luigi.Parameter):
    def __init__(self, description: str, prefixes: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(description=description, **kwargs)
        self.prefixes = prefixes

    def problem(self, value: str) -> str | None:
        if self.prefixes and value and not value.startswith(self.prefixes):
            return f"must be empty or start with {' or '.join(self.prefixes)}"
        return None


class LanguagesSetting(TextSetting):
    """Language codes separated by commas (``en, fr``), each one the identifier knows."""

    def problem(self, value: str) -> str | None:
        from pipeline.language import Identifier

        codes = [code.strip() for code in value.split(",") if code.strip()]
        known = set(Identifier.shared().labels)
        unknown = [code for code in codes if code not in known]
        if unknown:
            return (f"unknown language code(s) {', '.join(unknown)}: ISO 639-1 codes such as en, fr, de "
                    f"(ISO 639-3 for languages without one)")
        return None


def shipped_value(name: str) -> str:
    """A ``[pipeline]`` setting's default, as the shipped config/luigi.cfg spells it."""
    return _SHIPPED.get(SECTION, name)


_shipped = shipped_value


class Settings(luigi.Config):
    """Settings of the whole pipeline, section ``[pipeline]`` (flags ``--pipeline-...``);
    each documented in the shipped config/luigi.cfg."""

    @classmethod
    def get_task_family(cls) -> str:
        return SECTION  # the section's name: the package is called pipeline too

    raw_dir = TextSetting("folder of night folders YYYY-MM-DD", default=_shipped("raw_dir"))
    out_dir = TextSetting("where each night's outputs go", default=_shipped("out_dir"))
    state_dir = TextSetting("state kept across nights", default=_shipped("state_dir"))
    processes = IntSetting("processes per task for CPU-bound stages", 1, default=int(_shipped("processes")))
    shard_bytes = IntSetting("bytes of raw files per shard task", 1, default=int(_shipped("shard_bytes")))
    shard_files = IntSetting("files per shard task", 1, default=int(_shipped("shard_files")))
    rules = TextSetting("boilerplate rules file", default=_shipped("rules"))
    min_words = IntSetting("articles shorter after cleaning are rejected", 0, default=int(_shipped("min_words")))
    threshold = FractionSetting("Jaccard similarity of near-duplicates", default=float(_shipped("threshold")))
    num_perm = IntSetting("MinHash permutations", 2, default=int(_shipped("num_perm")))
    shingle_size = IntSetting("words per shingle", 1, default=int(_shipped("shingle_size")))
    minhash_seed = IntSetting("seed of the MinHash permutations", 0, default=int(_shipped("minhash_seed")))
    lsh_bands = IntSetting("LSH bands (0: chosen for the threshold)", 0, default=int(_shipped("lsh_bands")))
    lsh_rows = IntSetting("LSH rows per band (0: chosen)", 0, default=int(_shipped("lsh_rows")))
    lsh_recall = FractionSetting("chance a pair at the threshold is proposed", below_one=True,
                                 default=float(_shipped("lsh_recall")))
    keep = ChoiceSetting("keep policy", KEEP_POLICIES, default=_shipped("keep"))
    history_days = IntSetting("earlier nights compared (0: all)", 0, default=int(_shipped("history_days")))
    index_url = TextSetting("redis://host:port/db for a shared index", ("redis://", "rediss://", "unix://"),
                            default=_shipped("index_url"))
    keep_stages = IntSetting("nights whose stages/ are kept whole (0: all)", 0,
                             default=int(_shipped("keep_stages")))
    languages = LanguagesSetting("languages kept, ISO 639 codes (empty: all)", default=_shipped("languages"))
    max_page_bytes = IntSetting("HTML pages larger than this are rejected unread", 1,
                                default=int(_shipped("max_page_bytes")))
    page_seconds = IntSetting("seconds a page's extraction may take (0: no limit)", 0,
                              default=int(_shipped("page_seconds")))
    page_memory_mb = IntSetting("megabytes a page's extraction may take (0: no limit)", 0,
                                default=int(_shipped("page_memory_mb")))

    @property
    def language_list(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.languages.split(",") if code.strip())


SETTING_NAMES = tuple(sorted(name for name, _ in Settings.get_params()))


def unknown_settings() -> list[str]:
    """Keys of ``[pipeline]`` in the configuration files that are no setting, each with the
    nearest setting's name when there is one (``treshold`` -> ``threshold``), and sections
    whose name is a misspelling of ``[pipeline]`` (``[pipline]``)."""
    config = luigi.configuration.get_config()
    # A section whose name is nearly ours is a misspelling: its settings would be ignored,
    # and the night would run on the shipped ones (raw_dir = samples).
    problems = [f"unknown section [{name}] (did you mean [{SECTION}]?)" for name in config.sections()
                if name != SECTION and difflib.get_close_matches(name.lower(), [SECTION], n=1, cutoff=0.75)]
    if not config.has_section(SECTION):
        return problems
    for key in sorted(config.options(SECTION)):
        if _spellings(key)[0] in SETTING_NAMES:
            continue
        near = difflib.get_close_matches(_spellings(key)[0], SETTING_NAMES, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else f" (settings: {', '.join(SETTING_NAMES)})"
        problems.append(f"unknown setting [{SECTION}] {key}{hint}")
    return problems


@dataclass(frozen=True)
class NightPaths:
    """Where one night's files are."""

    date: str
    raw: Path
    out: Path

    @property
    def stages(self) -> Path:
        return self.out / "stages"

    def stage_file(self, stage: str, file: str, part: str) -> Path:
        """A per-file stage output: ``stages/<stage>/<file>.<part>``."""
        return self.stages / stage / f"{file}.{part}"


def night_paths(date: dt.date) -> NightPaths:
    cfg = Settings()
    day = date.isoformat()
    return NightPaths(date=day, raw=Path(cfg.raw_dir) / day, out=Path(cfg.out_dir) / day)


def is_raw_night(path: Path) -> bool:
    """A night's raw folder: a folder, not a symbolic link to one (not followed: its
    files could be anywhere, another night's included; ``raw_dir`` itself may be one)."""
    return path.is_dir() and not path.is_symlink()


def raw_nights() -> set[str]:
    """The nights that have a raw folder."""
    raw_dir = Path(Settings().raw_dir)
    if not raw_dir.is_dir():
        return set()
    return {p.name for p in raw_dir.iterdir() if NIGHT_RE.match(p.name) and is_raw_night(p)}


def out_nights() -> set[str]:
    """The nights that have an output folder (finished or not)."""
    out_dir = Path(Settings().out_dir)
    return {p.name for p in out_dir.iterdir() if NIGHT_RE.match(p.name) and p.is_dir()} if out_dir.is_dir() else set()


def site_lines_path(night: str) -> Path:
    """A night's site-line counts, kept in the state folder for later nights."""
    return Path(Settings().state_dir) / "site_lines" / f"{night}.json"


def locks_folder(night: str) -> Path:
    """The lock files of a night's tasks (see ``tasks.one_at_a_time``)."""
    return Path(Settings().state_dir) / "locks" / night


def lock_path(night: str, task_id: str) -> Path:
    return locks_folder(night) / f"{task_id}.lock"


def history_since(date: dt.date) -> str | None:
    """The first night tonight is compared with (None: every earlier night)."""
    days = Settings().history_days
    return (date - dt.timedelta(days=days)).isoformat() if days > 0 else None


def rules_path() -> Path:
    """The boilerplate rules file (see ``shipped.resolve``)."""
    return shipped.resolve(Settings().rules)


def dedup_config() -> DedupConfig:
    cfg = Settings()
    return _dedup_config(cfg.threshold, cfg.num_perm, cfg.shingle_size, cfg.minhash_seed, cfg.keep,
                         cfg.lsh_bands, cfg.lsh_rows, cfg.lsh_recall)


@functools.lru_cache(maxsize=8)
def _dedup_config(threshold: float, num_perm: int, shingle_size: int, seed: int, keep: str, bands: int,
                  rows: int, recall: float) -> DedupConfig:
    try:
        return DedupConfig(threshold=threshold, num_perm=num_perm, shingle_size=shingle_size, seed=seed,
                           keep=keep, bands=bands, rows=rows, lsh_recall=recall)
    except ValueError as error:
        raise SettingError(f"[{SECTION}] {error}") from None


def check() -> Settings:
    """Every setting read and checked: unknown keys, values out of range, the dedup settings
    together. Raises :class:`SettingError` naming the first problem."""
    problems = unknown_settings()
    if problems:
        raise SettingError(problems[0])
    try:
        cfg = Settings()
    except ValueError as error:  # Luigi wraps what a setting's parse raised
        cause = error.__cause__
        raise SettingError(str(cause if isinstance(cause, SettingError) else error)) from None
    dedup_config()
    return cfg
