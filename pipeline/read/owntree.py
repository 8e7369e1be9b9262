"""trafilatura extracting from the chain's own parse of a page, without the copies it
makes for a caller that keeps using its tree.

``trafilatura.bare_extraction`` given a tree copies it whole (0.9 ms on the bench's pages),
and in its fast mode copies it twice more, into a tree to clean (0.9 ms) and a backup of
the cleaned one (0.3 ms), which only its full mode and its comment capture read again.
The chain reads the page's metadata first, and then has no use for its tree: the fast mode
may extract from the tree itself. Its loader's repair also searches the whole markup for
control characters (0.7 ms), where a byte count finds that there are none (0.2 ms).

:func:`installed` changes three names in trafilatura for the length of a ``with`` block:

- ``trafilatura.core.load_html`` gives the tree inside a :class:`Given` as it is, so that
  ``bare_extraction`` does not copy it (any other input is loaded as before);
- ``trafilatura.core._prepare_tree``, in the fast precision mode without comments, cleans
  the tree it is given in place and makes no backup (in every other mode, trafilatura's);
- ``trafilatura.utils.INVALID_XML_CHARS`` substitutes only in markup that holds one of
  its characters, and gives the markup itself otherwise, as the pattern's own ``sub`` does.

The first two only where trafilatura's functions are still those this reasoning was made
on (:data:`SOURCES`: their source's digests); the third only where the pattern is still
:data:`INVALID_XML_CHARS`. Elsewhere trafilatura runs as it is, and :func:`given` gives
the tree itself, for ``bare_extraction`` to copy.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import re
from dataclasses import dataclass
from typing import Any, Iterator

from pipeline.text import holds_ascii

# The functions whose code makes the copies skipped here safe to skip, by the SHA-256 of
# their source (its first 16 hex digits), as trafilatura 2.3.1 has them.
SOURCES = {
    "bare_extraction": "2e57adb3062086f9",
    "trafilatura_sequence": "f03dc4d2946dacbd",
    "_prepare_tree": "9595f0642825c2c7",
    "_extract_and_compare": "f7d056c2118222e8",
}
# trafilatura.utils.INVALID_XML_CHARS's pattern: what :func:`has_invalid_xml_chars` finds.
INVALID_XML_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_INVALID_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


@dataclass(frozen=True)
class Given:
    """A tree for ``bare_extraction`` to extract from as it is (it is changed)."""

    tree: Any


def has_invalid_xml_chars(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`INVALID_XML_CHARS`.

    >>> has_invalid_xml_chars("<p>Café\\u00a0au lait</p>"), has_invalid_xml_chars("<p>a\\x0cb</p>")
    (False, True)
    """
    return "\ufffe" in text or "\uffff" in text or holds_ascii(text, _INVALID_BYTES)


class _QuickSubstitution:
    """A compiled pattern whose ``sub`` first checks that there is anything to replace."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def sub(self, replacement: Any, text: Any, count: int = 0) -> Any:
        if isinstance(text, str) and not has_invalid_xml_chars(text):
            return text
        return self.pattern.sub(replacement, text, count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pattern, name)


@functools.cache
def _unchanged() -> bool:
    """Whether trafilatura's functions are those :data:`SOURCES` names."""
    from trafilatura import core

    try:
        return all(hashlib.sha256(inspect.getsource(getattr(core, name)).encode()).hexdigest()[:16] == digest
                   for name, digest in SOURCES.items())
    except (AttributeError, OSError, TypeError):
        return False


_active = False


def given(tree: Any) -> Any:
    """What to give ``bare_extraction`` for it to extract from ``tree`` itself: a
    :class:`Given` inside :func:`installed`'s block, else the tree (which it copies)."""
    return Given(tree) if _active else tree


@contextlib.contextmanager
def installed() -> Iterator[bool]:
    """The three changes above, for the ``with`` block (gives whether the two about
    trees are in: they are where trafilatura is still as read)."""
    global _active
    from trafilatura import core, utils

    swaps: list[tuple[Any, str, Any]] = []
    if isinstance(utils.INVALID_XML_CHARS, re.Pattern) and utils.INVALID_XML_CHARS.pattern == INVALID_XML_CHARS:
        swaps.append((utils, "INVALID_XML_CHARS", _QuickSubstitution(utils.INVALID_XML_CHARS)))
    trees = not _active and _unchanged()
    if trees:
        load_html, prepare_tree = core.load_html, core._prepare_tree

        def load_given(htmlobject: Any, max_size: int | None = None) -> Any:
            return htmlobject.tree if isinstance(htmlobject, Given) else load_html(htmlobject, max_size)

        def prepare_in_place(tree: Any, options: Any, url: str | None) -> tuple[Any, Any]:
            # In this mode trafilatura_sequence reads neither the tree it passes nor the
            # backup again: no comment capture, no comparison with other extractors, no
            # baseline rescue and no recall retry (those need the balanced focus).
            if options.fast and not options.comments and options.focus == "precision":
                return core.convert_tags(core.tree_cleaning(tree, options), options, url), None
            return prepare_tree(tree, options, url)

        swaps += [(core, "load_html", load_given), (core, "_prepare_tree", prepare_in_place)]
    originals = [(module, name, getattr(module, name)) for module, name, _ in swaps]
    for module, name, replacement in swaps:
        setattr(module, name, replacement)
    _active = _active or trees
    try:
        yield trees
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
        if trees:
            _active = False
