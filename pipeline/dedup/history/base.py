"""What every history store shares: the settings that make two stores compatible, the
window rule, superseded articles. Imported by the stores; imports none of them."""

from __future__ import annotations

from typing import NamedTuple

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.doc import Doc, Match
from pipeline.text import WORDS_VERSION


class HistoryMismatch(RuntimeError):
    """The history was built with other dedup settings."""


class Superseded(NamedTuple):
    """An earlier night's kept article that one of tonight's replaced (keep policy
    ``latest``, or ``longest`` against a longer version)."""

    night: str  # the earlier article's night
    key: str  # ... and key
    by: str  # the key of tonight's article that replaced it

    @classmethod
    def of(cls, old: Doc, match: Match) -> "Superseded":
        return cls(old.night, old.key, match.dup_of.key)


def settings_fingerprint(config: DedupConfig) -> str:
    """What makes two indexes compatible: same words, shingles, permutations and banding.

    >>> settings_fingerprint(DedupConfig())
    'shingles5-perm128-seed1-affine32-b21r6-words2'
    """
    return (
        f"shingles{config.shingle_size}-perm{config.num_perm}-seed{config.seed}-"
        f"{config.scheme}-b{config.bands}r{config.rows}-words{WORDS_VERSION}"
    )


def in_window(doc_night: str, superseded_night: str | None, night: str, since: str | None) -> bool:
    """Whether an entry counts tonight: from an earlier night within the window, and not
    superseded by a night before tonight (a rerun sees what the first run saw)."""
    return (
        doc_night < night
        and (since is None or doc_night >= since)
        and (superseded_night is None or superseded_night >= night)
    )
