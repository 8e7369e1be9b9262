"""Lines a site repeats on many of its pages: site boilerplate, found by counting.

A site is the URL's host (``www.`` dropped), or, for records without a URL, the file
they came from. For each site, count on how many of its pages each line appears
(pages of one story captured again count once: they share their longest line). A
line on at least ``share`` of the site's pages, and on at least ``min_pages`` of
them, is boilerplate, provided the site has ``min_site_pages`` pages; counts of
recent nights are added from the state folder, so a site with few pages a night
still gets its menus found.

>>> counts = SiteCounts()
>>> for page in (["Menu", "Story one."], ["Menu", "Story two."], ["Menu", "Story three."]):
...     counts.add("example.org", page)
>>> sorted(counts.boilerplate(SiteLineSettings(share=0.5, min_pages=3, min_site_pages=3))["example.org"]) == [
...     line_key("Menu")]
True
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import xxhash

from pipeline.clean.rules import SiteLineSettings
from pipeline.dedup import wordhash
from pipeline.text import site_of, squeeze_spaces


def line_hash(line: str) -> int:
    """Fingerprint of a line, as a number: case and spacing do not matter."""
    return xxhash.xxh64_intdigest(squeeze_spaces(line).casefold().encode("utf-8"))


def line_key(line: str) -> str:
    """Fingerprint of a line, as the state files spell it (``line_hash`` in hexadecimal:
    ``xxh64_hexdigest``'s spelling)."""
    return f"{line_hash(line):016x}"


def hex_keys(hashes: np.ndarray) -> list[str]:
    """``[f"{h:016x}" for h in hashes]``, from the big-endian bytes at once."""
    digits = np.asarray(hashes, dtype=">u8").tobytes().hex()
    return [digits[k : k + 16] for k in range(0, len(digits), 16)]


def line_hashes_of_texts(texts: Sequence[str]) -> list[np.ndarray]:
    """``line_hash`` of every line (``text.split("\\n")``) of each text; most lines are
    hashed by one compiled loop over all the texts at once (``wordhash.line_hashes``).

    >>> [h.tolist() for h in line_hashes_of_texts(["Menu\\n  MENU ", "", "ÉTÉ"])] == [
    ...     [line_hash("Menu"), line_hash("menu")], [line_hash("")], [line_hash("été")]]
    True
    """
    if not texts:
        return []
    hashes, counts = _joined_line_hashes(texts)
    return np.split(hashes, np.cumsum(counts)[:-1].tolist())


def _joined_line_hashes(texts: Sequence[str], lines: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``line_hash`` of every line of all the texts, one after another, and each text's
    number of lines; ``lines``: the texts' lines, one after another, if known."""
    joined = "\n".join(texts)
    hashes, other = wordhash.line_hashes(joined.encode("utf-8"))
    flagged = np.flatnonzero(other).tolist()
    if flagged:  # lines the loop does not fold (upper case beyond ASCII, odd spaces ...)
        if lines is None:
            lines = joined.split("\n")
        for j in flagged:
            hashes[j] = line_hash(lines[j])
    return hashes, np.array([text.count("\n") + 1 for text in texts], dtype=np.int64)


def load_kernels() -> None:
    """Compile the line-hashing loop, or load it from numba's cache, and build its table
    of characters, in a process about to fork workers (see ``dedup.load_kernels``)."""
    line_hashes_of_texts(["Warm up: “café”"])


def page_keys(page_lines: Sequence[str], hashes: np.ndarray | None = None) -> tuple[str, list[str]] | None:
    """A page's story key (its longest line's) and its distinct line keys, sorted; None
    for a page without text. Computed per shard, in parallel; counted once a night.
    ``hashes``: the lines' ``line_hash``, when already computed."""
    if hashes is None:
        hashes = np.array([line_hash(line) for line in page_lines], dtype=np.uint64)
    distinct: set[int] = set()
    longest: tuple[int, str] | None = None
    story = 0
    for line, line_hash_ in zip(page_lines, hashes.tolist()):
        stripped = line.strip()
        if stripped:
            distinct.add(line_hash_)
            if longest is None or (len(stripped), line) > longest:
                longest, story = (len(stripped), line), line_hash_
    if longest is None:
        return None
    # Sorted as numbers is sorted as fixed-width hexadecimal.
    return f"{story:016x}", hex_keys(np.array(sorted(distinct), dtype=np.uint64))


def page_keys_of_texts(texts: Sequence[str]) -> list[tuple[str, list[str]] | None]:
    """``page_keys`` of each text's lines (``text.split("\\n")``), for a chunk of texts
    at once: the lines hashed by one loop, their distinct keys sorted and the longest
    found with array operations; only a text whose longest stripped lines tie is
    looked at again, to choose among them as ``page_keys`` does.

    >>> page_keys_of_texts(["Menu\\nA story.", " \\n"]) == [page_keys(["Menu", "A story."]), None]
    True
    """
    if not texts:
        return []
    lines = "\n".join(texts).split("\n")
    hashes, counts = _joined_line_hashes(texts, lines)
    sizes = np.array([len(line.strip()) for line in lines], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    owner = np.repeat(np.arange(len(texts)), counts)
    longest = np.maximum.reduceat(sizes, starts)
    # The lines as long as their text's longest (stripped, not blank): one, or a tie.
    ties = np.flatnonzero((sizes == longest[owner]) & (sizes > 0))
    with_text, at = np.unique(owner[ties], return_index=True)
    first = np.full(len(texts), -1, dtype=np.int64)
    first[with_text] = ties[at]
    tied = np.bincount(owner[ties], minlength=len(texts)) > 1
    # Each text's distinct keys of its non-blank lines, sorted by text then key.
    filled = np.flatnonzero(sizes)
    order = np.lexsort((hashes[filled], owner[filled]))
    pairs_owner, pairs_hash = owner[filled][order], hashes[filled][order]
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = (pairs_owner[1:] != pairs_owner[:-1]) | (pairs_hash[1:] != pairs_hash[:-1])
    keys = hex_keys(pairs_hash[fresh])
    bounds = np.concatenate([[0], np.cumsum(np.bincount(pairs_owner[fresh], minlength=len(texts)))]).tolist()
    stories = hex_keys(hashes[np.maximum(first, 0)])
    out: list[tuple[str, list[str]] | None] = []
    for i, (j, is_tied) in enumerate(zip(first.tolist(), tied.tolist())):
        if j < 0:
            out.append(None)
            continue
        story = stories[i]
        if is_tied:  # the longest lines tie on length: the greatest line, as page_keys
            start = int(starts[i])
            best = max(range(start, start + int(counts[i])), key=lambda k: (sizes[k], lines[k]))
            story = f"{int(hashes[best]):016x}"
        out.append((story, keys[bounds[i] : bounds[i + 1]]))
    return out


@dataclass
class SiteCounts:
    """Per site: distinct pages, and on how many of them each line appears."""

    pages: Counter = field(default_factory=Counter)
    lines: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    _seen: set = field(default_factory=set)

    def add(self, site: str, page_lines: Sequence[str]) -> None:
        page = page_keys(page_lines)
        if page is not None:
            self.add_page(site, *page)

    def add_page(self, site: str, story: str, keys: Sequence[str]) -> None:
        """Count one page given its story key and line keys (see :func:`page_keys`)."""
        if (site, story) in self._seen:
            return  # the same story captured again
        self._seen.add((site, story))
        self.pages[site] += 1
        self.lines[site].update(keys)

    def merge(self, other: dict) -> None:
        """Add counts saved by :meth:`to_json` (an earlier night's)."""
        for site, data in other.items():
            self.pages[site] += data["pages"]
            self.lines[site].update(data["lines"])

    def to_json(self, minimum: int = 2) -> dict:
        """Counts worth keeping (lines seen on at least ``minimum`` pages), sorted."""
        return {
            site: {
                "pages": self.pages[site],
                "lines": dict(sorted((k, v) for k, v in self.lines[site].items() if v >= minimum)),
            }
            for site in sorted(self.pages)
        }

    def boilerplate(self, settings: SiteLineSettings) -> dict[str, set[str]]:
        """Per site, the fingerprints of its boilerplate lines."""
        out: dict[str, set[str]] = {}
        for site, pages in self.pages.items():
            if pages < settings.min_site_pages:
                continue
            needed = max(settings.min_pages, settings.share * pages)
            lines = {key for key, count in self.lines[site].items() if count >= needed}
            if lines:
                out[site] = lines
        return out


def count_sites(articles: Iterable[tuple[str | None, str, str]]) -> SiteCounts:
    """Count (url, file, text) articles."""
    counts = SiteCounts()
    for url, file, text in articles:
        counts.add(site_of(url, file), text.split("\n"))
    return counts
