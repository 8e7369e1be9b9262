"""An HTML page to an article: trafilatura's extraction, the page's metadata, its figure
captions, and an account of every block of text the extraction left out.

>>> page = Page(file="a.html", index=0, date="2026-11-27", html=(
...     "<html><head><title>Rain at last | The Gazette</title></head><body>"
...     "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>Rain at last</h1>"
...     "<p>After ninety dry days the town's reservoirs began to fill on Tuesday, as a slow band "
...     "of rain crossed the valley and stayed for most of the afternoon.</p>"
...     "<figure><img src='r.jpg'><figcaption>The reservoir on Tuesday (Photo: A. Lee)</figcaption></figure>"
...     "<p>Farmers said the rain came too late for the wheat but in time for the orchards, which "
...     "flower in March and had been watered by hand since the autumn.</p></article>"
...     "<footer>Copyright 2026 The Gazette</footer></body></html>"))
>>> extracted = extract(page, HtmlSettings())
>>> extracted.article.title, extracted.article.captions
('Rain at last', ['The reservoir on Tuesday (Photo: A. Lee)'])
>>> [(r["rule"], r["text"]) for r in extracted.removed]
[('html_boilerplate', 'Home News'), ('html_boilerplate', 'Copyright 2026 The Gazette')]
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import lxml.etree

from pipeline.clean.rules import HtmlSettings
from pipeline.read import expressions, owntree
from pipeline.read.budget import OverBudget, PageBudget, page_budget
from pipeline.read.charset import DecodedPage, decode_page
from pipeline.read.pagemeta import page_metadata
from pipeline.records import Article, Rejection, excerpt
from pipeline.text import squeeze_spaces

STAGE = "read"
RULE = "html_boilerplate"

# Elements that start a block of text (a line of the page's visible text).
BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption center dd details dialog dir div dl dt fieldset figcaption "
    "figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav noframes ol "
    "optgroup option p pre section summary table tbody td tfoot th thead tr ul".split())
# Elements whose text a reader never sees.
INVISIBLE_TAGS = frozenset("head script style noscript template svg math iframe object embed canvas".split())


@dataclass
class Page:
    """A page as read, before extraction: where it is, its HTML (bytes as fetched, or
    text from a JSONL record), what the crawler knew of it, and the record's own fields."""

    file: str
    index: int
    date: str
    html: bytes | str
    content_type: str | None = None  # the HTTP header, when a WARC record has one
    url: str | None = None
    offset: int | None = None  # of the WARC record
    line: int | None = None  # of the JSONL record
    fetched: str | None = None  # WARC-Date
    last_modified: str | None = None  # the HTTP header
    record_id: str | None = None
    title: str | None = None
    published: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    decoding: dict[str, Any] = field(default_factory=dict)  # how the record's line was decoded
    text: str | None = None  # a JSONL record's own text, used when the page holds no article


@dataclass
class Extracted:
    """What a page gave: its article, or the rejection saying why none; and the blocks of
    text the extraction left out (``removed.jsonl`` records, rule ``html_boilerplate``)."""

    article: Article | None
    rejection: Rejection | None = None
    removed: list[dict] = field(default_factory=list)


class _Block:
    __slots__ = ("element", "parts")

    def __init__(self, element: lxml.etree._Element) -> None:
        self.element, self.parts = element, []


def visible_blocks(tree: lxml.etree._Element) -> list[tuple[lxml.etree._Element, int | None, str]]:
    """The page's visible text, a block a line (whitespace squeezed), in page order, each
    with its element and the element's source line.

    >>> [(line, text) for _, line, text in visible_blocks(lxml.etree.fromstring(
    ...     "<div><p>One <b>two</b></p>three<script>x()</script><ul><li>four</li></ul></div>", _PARSER))]
    [(1, 'One two'), (1, 'three'), (1, 'four')]
    """
    blocks: list[_Block] = []
    stack: list[_Block] = []  # the open elements' blocks
    walker = lxml.etree.iterwalk(tree, events=("start", "end"))
    for event, element in walker:
        tag = element.tag  # a string, or a function for comments and the like
        if event == "start":
            if tag.__class__ is not str or tag in INVISIBLE_TAGS:
                walker.skip_subtree()  # the end event still comes, with the tail
                stack.append(stack[-1] if stack else _Block(element))
                continue
            if tag in BLOCK_TAGS or not stack:
                block = _Block(element)
                blocks.append(block)
            else:
                block = stack[-1]
            if tag == "br":
                block.parts.append("\n")
            text = element.text
            if text:
                block.parts.append(text)
            stack.append(block)
        else:
            block = stack.pop()
            tail = element.tail
            if tail and stack:
                if tag in BLOCK_TAGS:
                    # Text after a block element is a new block of its parent's.
                    after = _Block(element.getparent())
                    blocks.append(after)
                    stack[-1] = after
                    after.parts.append(tail)
                else:
                    stack[-1].parts.append(tail)
    out = []
    for block in blocks:
        line = None
        for piece in "".join(block.parts).split("\n"):
            if piece and not piece.isspace():  # what squeezes to nothing (most pieces: the markup's indentation)
                if line is None:
                    line = block.element.sourceline
                out.append((block.element, line, squeeze_spaces(piece)))
    return out


def extract(page: Page, settings: HtmlSettings, max_bytes: int = 20_000_000,
            budget: PageBudget = PageBudget()) -> Extracted:
    """The article of a page, or why it has none (within the page's ``budget`` of time and
    memory: a page over it is rejected, see ``budget``)."""
    try:
        with page_budget(budget):
            return _extract(page, settings, max_bytes)
    except OverBudget as over:
        return _reject(page, f"page over its budget: {over}", page.html[:80])


def _reject(page: Page, reason: str, sample: str | bytes = "") -> Extracted:
    return Extracted(None, Rejection(page.file, reason, STAGE, line=page.line, offset=page.offset,
                                     id=page.record_id, excerpt=excerpt(sample)))


def _extract(page: Page, settings: HtmlSettings, max_bytes: int) -> Extracted:
    reject = functools.partial(_reject, page)
    if len(page.html) > max_bytes:
        return reject(f"page larger than {max_bytes:,} bytes (max_page_bytes)")
    if isinstance(page.html, bytes):
        if _looks_binary(page.html):
            return reject("binary content, not HTML", page.html[:80])
        decoded = decode_page(page.html, page.content_type)
    else:
        decoded = DecodedPage(page.html, "utf-8", "record")
    # An XHTML page's XML declaration names the bytes' encoding: the text is decoded
    # already, and lxml refuses a string that declares one.
    html = _XML_DECLARATION.sub("", decoded.text, count=1)
    try:
        tree = lxml.etree.fromstring(html, _PARSER)
    except (lxml.etree.LxmlError, ValueError) as error:
        return reject(f"not HTML: {error}", html[:80])
    if tree is None:
        return reject("no HTML elements in the page", html[:80])
    try:
        document = _trafilatura(html, page, settings)
    except RecursionError:
        return reject("HTML nested too deeply to extract", html[:80])
    if document is None or not (document.get("text") or "").strip():
        if page.text and page.text.strip():
            return Extracted(_record_text_article(page, "no article text found in the page"))
        return reject("no article text found in the page", html[:200])
    # trafilatura gives a block a line; the articles' text has paragraphs apart.
    text = "\n\n".join(line for line in document["text"].split("\n") if line.strip())
    title = page.title or _clean(document.get("title"))
    blocks = visible_blocks(tree)
    texts = [block for _, _, block in blocks]
    body = squeeze_spaces(text.replace("\n", " "))
    in_body = WholeBlocks(body).found(texts)
    captions = _captions([element for (element, _, _), found in zip(blocks, in_body or ()) if found])
    # A block whole in the body is whole in the article's text around it: only the others
    # are looked for there.
    others = [text for text, found in zip(texts, in_body or ()) if not found]
    in_others = WholeBlocks(squeeze_spaces(" ".join(filter(None, (title, body, *captions))))).found(others)
    in_kept = None
    if in_body is not None and in_others is not None:
        rest = iter(in_others)
        in_kept = [found or next(rest) for found in in_body]
    if in_body is None or in_kept is None:
        return reject(f"page too complex to account for what extraction left out ({len(blocks):,} blocks)",
                      html[:80])
    removed = [
        {"id": None, "file": page.file, "line": page.line if page.line is not None else line, "rule": RULE,
         "text": block}
        for (_, line, block), found in zip(blocks, in_kept)
        if not found  # a whole block, not a word of a sentence ("Home")
    ]
    article = Article(
        id=page.record_id or f"{page.date}/{page.file}#{page.index}",
        title=title,
        text=text,
        captions=captions,
        url=page.url or _clean(document.get("url")),
        date=page.date,
        source={"file": page.file, "index": page.index, "line": page.line,
                **({"offset": page.offset} if page.offset is not None else {})},
        fixes={"decoding": {**page.decoding, **decoded.fixes()},
               **({"removed_lines": {RULE: len(removed)}} if removed else {})},
        published=page.published or _clean(document.get("date")) or _published_from_headers(page),
        meta={**page.meta, **{name: value for name in ("author", "sitename", "description")
                              if (value := _clean(document.get(name)))}},
    )
    for record in removed:
        record["id"] = article.id
    return Extracted(article, removed=removed)


class WholeBlocks:
    """Which blocks appear whole in a text (both with spaces squeezed): their words
    together and in order, at word boundaries, as ``f" {block} " in f" {text} "`` says,
    in time that grows with the text and the blocks, not with their product (a page of
    300,000 blocks and 7 MB of text: seconds, not hours). Most pages are that search
    itself, while the text's length times the distinct blocks stays within :data:`SEARCH`
    (characters compared in C, a few a nanosecond); beyond it, each block is looked for at
    the places of its rarest word, and a page that would need more than :data:`WORK` word
    comparisons is too complex (``found`` gives None).

    >>> WholeBlocks("Home is where the heart is. Read more").found(["Home", "the heart", "heart is. Read", "Menu", "he"])
    [True, True, True, False, False]
    """

    SEARCH = 50_000_000
    WORK = 50_000_000

    def __init__(self, text: str) -> None:
        self.text = text
        self.words: list[str] = []
        self.places: dict[str, list[int]] = {}

    def _index(self) -> None:
        self.words = self.text.split(" ") if self.text else []
        places = self.places
        for i, word in enumerate(self.words):
            at = places.get(word)
            if at is None:
                places[word] = [i]
            else:
                at.append(i)

    def found(self, blocks: Sequence[str]) -> list[bool] | None:
        distinct = set(blocks)
        if (len(self.text) + 2) * len(distinct) <= self.SEARCH:
            padded = f" {self.text} "
            seen_in = {block: f" {block} " in padded for block in distinct}
            return [seen_in[block] for block in blocks]
        if not self.places and self.text:
            self._index()
        known: dict[str, bool] = {}
        work = 0
        out = []
        words, places, nowhere = self.words, self.places, ()
        for block in blocks:
            seen = known.get(block)
            if seen is None:
                parts = block.split(" ") if block else []
                if not parts:
                    seen = not words
                elif len(parts) == 1:  # a word: found if the text has it
                    at = places.get(parts[0], nowhere)
                    work += len(at) + 1
                    if work > self.WORK:
                        return None
                    seen = len(at) > 0
                else:
                    counts = [len(places.get(part, nowhere)) for part in parts]
                    fewest = min(counts)
                    work += fewest * len(parts) + 1
                    if work > self.WORK:
                        return None
                    rarest = counts.index(fewest)  # the first of the rarest words
                    size = len(parts)
                    seen = fewest > 0 and any(words[start - rarest : start - rarest + size] == parts
                                              for start in places[parts[rarest]] if start >= rarest)
                known[block] = seen
            out.append(seen)
        return out


# An XML declaration at the start of a page (after a byte-order mark or spaces).
_XML_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml[^>]*\?>")

# lxml's HTML parser as trafilatura configures its own (comments and processing
# instructions dropped), without huge_tree: libxml2 then stops nesting at 256 levels, so
# a page of a million nested tags cannot exhaust the stack. lxml.etree's elements, not
# lxml.html's: the walk over every element is then a third faster.
_PARSER = lxml.etree.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False, default_doctype=False)


def _trafilatura(html: str, page: Page, settings: HtmlSettings) -> dict | None:
    """trafilatura's extraction of a page, with the metadata the article uses: its fast
    mode first when the settings say so (``fast_below_words``), its full mode (with its
    fallback extractors) when the fast one found less text than that.

    The page is parsed once, by trafilatura's own loader, and its metadata read from that
    tree (``pagemeta.page_metadata``); the first mode then extracts from the tree itself
    (``owntree``), and the full mode after the fast one from the markup, as it would."""
    import trafilatura  # imported in the process that extracts: 0.3 s, needed only for pages
    from trafilatura.utils import load_html

    _quiet_trafilatura()
    options = dict(
        url=page.url,
        favor_precision=settings.favor_precision,
        favor_recall=settings.favor_recall,
        include_tables=settings.include_tables,
        include_comments=settings.include_comments,
        include_images=False,
        include_links=False,  # the URL then plays no part in the extraction
        include_formatting=False,
        deduplicate=False,  # a process-wide cache: results would depend on the pages before
    )
    document = None
    # Its costliest expressions as Python tests, and no copies of the tree but those it reads.
    with expressions.installed(), owntree.installed():
        tree = load_html(html)
        if tree is None:
            return None
        try:  # first: the extraction changes the tree
            metadata, failed = page_metadata(tree, page.url, page.date), None
        except Exception as error:  # raised only for a page with an article, as when read after it
            metadata, failed = {}, error
        if settings.fast_below_words:
            document = trafilatura.bare_extraction(owntree.given(tree), fast=True, **options)
            if document is not None and len((document.text or "").split()) < settings.fast_below_words:
                document = None  # too little: the full mode, with its fallback extractors
            source = html  # the fast mode changed the tree: the full mode reads the markup
        else:
            source = owntree.given(tree)
        if document is None:
            document = trafilatura.bare_extraction(source, **options)
    if document is None:
        return None
    if failed is not None:
        raise failed
    return {"text": document.text, **metadata}


def _record_text_article(page: Page, why: str) -> Article:
    """A JSONL record's own text, for a page that gave no article (``why``)."""
    return Article(
        id=page.record_id or f"{page.date}/{page.file}#{page.index}", title=page.title,
        text=page.text.replace("\r\n", "\n").replace("\r", "\n"), captions=[], url=page.url, date=page.date,
        source={"file": page.file, "index": page.index, "line": page.line},
        fixes={"decoding": dict(page.decoding), "html": f"{why}: the record's text is used"},
        published=page.published, meta=dict(page.meta),
    )


def _captions(kept: list[lxml.etree._Element]) -> list[str]:
    """The figure captions of the article: those inside the element holding the blocks the
    extraction kept (their nearest common ancestor, or the ``<article>`` around it), each
    once, in page order."""
    if not kept:
        return []
    common = kept[0]
    chain = [common, *common.iterancestors()]
    for element in kept[1:]:
        ancestors = {id(a) for a in (element, *element.iterancestors())}
        chain = [a for a in chain if id(a) in ancestors]
    if not chain:
        return []
    container = next((a for a in chain if a.tag == "article"), chain[0])
    captions: list[str] = []
    for figcaption in container.iter("figcaption"):
        caption = squeeze_spaces("".join(figcaption.itertext()))
        if caption and caption not in captions:
            captions.append(caption)
    return captions


def _clean(value: Any) -> str | None:
    return squeeze_spaces(value) or None if isinstance(value, str) else None


def _published_from_headers(page: Page) -> str | None:
    """A page with no date of its own: its HTTP ``Last-Modified`` date, as YYYY-MM-DD."""
    if not page.last_modified:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(page.last_modified).date().isoformat()
    except (TypeError, ValueError):
        return None


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control bytes in the first kilobytes: an image or an archive
    saved under an .html name, not a page (UTF-16 pages start with a byte-order mark)."""
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32)))
    return b"\x00" in head or controls > len(head) * 0.05


@functools.cache
def _quiet_trafilatura() -> None:
    """trafilatura logs an error for each page it finds nothing in; the night says so
    itself, once, in rejected.jsonl."""
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
