"""Pages as scrapers keep them: HTML files, WARC crawls, JSONL records with html; their
charset, trafilatura's extraction and what it left out, the language of every article."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import lxml.etree
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.evaluation import score_texts
from bench.language import KNOWN_MISSES, PERSON_CAN_TELL
from bench.warcs import Fetched, chunked, gzipped, write_warc
from pipeline.clean.rules import HtmlSettings, load_rules
from pipeline.language import SAMPLE_CHARS, Identifier
from pipeline.read.charset import decode_page, web_codec
from pipeline.read.html import _PARSER, Page, WholeBlocks, extract, visible_blocks
from pipeline.read.readers import read_file
from pipeline.read.warc import WarcCounts
from pipeline.repair import repair
from tests.conftest import Night

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "2026-11-28"
PAGE = (SAMPLES / "council-vote.html").read_bytes()
FOOTBRIDGE_URL = "https://valleypost.example/news/2026/11/27/footbridge-vote"


def article_page(title: str, paragraphs: list[str], lang: str = "en", head: str = "") -> str:
    """A news page of ours: a menu, the article, a footer."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html lang='{lang}'><head>{head}<title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
            f"<article><h1>{title}</h1>{body}</article>"
            f"<footer>Copyright 2026 The Test Gazette. All rights reserved.</footer></body></html>")


FERRY = [
    "The new ferry between Varn and Ostby made its first crossing on Saturday morning, carrying "
    "forty passengers and a dozen cars across the lake in just under an hour.",
    "The boat, built at the yard in Ostby over the past two years, replaces a vessel that had "
    "served the route since 1979 and was often out of service in winter storms.",
    "Tickets will cost the same as before until the spring, the operator said, when a new "
    "timetable with two extra crossings a day comes into force.",
]


# --- charset ------------------------------------------------------------------------------


@pytest.mark.parametrize("data, content_type, text, charset, source", [
    (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", None, "<p>café</p>", "utf-8", "bom"),
    ("<p>café</p>".encode("utf-16-le") and b"\xff\xfe" + "<p>café</p>".encode("utf-16-le"), None,
     "<p>café</p>", "utf-16-le", "bom"),
    (b"<p>caf\xe9</p>", "text/html; charset=ISO-8859-1", "<p>café</p>", "windows-1252", "http"),
    (b'<meta charset="windows-1251"><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>', None,
     '<meta charset="windows-1251"><p>Привет</p>', "cp1251", "meta"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>\x93\xfa\x96{</p>', None,
     '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>日本</p>', "cp932", "meta"),
    # The HTTP header wins over the page's own statement, as in browsers.
    (b'<meta charset="utf-8"><p>caf\xe9</p>', "text/html; charset=windows-1252",
     '<meta charset="utf-8"><p>café</p>', "windows-1252", "http"),
    # No statement: bytes that are UTF-8 are UTF-8.
    (b"<p>Stra\xc3\x9fe</p>", None, "<p>Straße</p>", "utf-8", "utf-8"),
    # Declared UTF-8 with a stray Windows-1252 byte: that byte alone is read as Windows-1252.
    (b'<meta charset="utf-8"><p>caf\xc3\xa9 \xa35</p>', None, '<meta charset="utf-8"><p>café £5</p>', "utf-8", "meta"),
    # A meta after the first 1,024 bytes (long scripts in the head), for bytes that are not UTF-8.
    (b"<script>" + b"x" * 2000 + b"</script><meta charset=iso-8859-15><p>\xa4 5</p>", None,
     "<script>" + "x" * 2000 + "</script><meta charset=iso-8859-15><p>€ 5</p>", "iso8859-15", "late-meta"),
])
def test_pages_are_decoded_with_the_charset_a_browser_would_use(data, content_type, text, charset, source):
    page = decode_page(data, content_type)
    assert (page.text, page.charset, page.source) == (text, charset, source)


def test_an_unknown_charset_label_is_noted_and_the_bytes_decide():
    page = decode_page(b'<meta charset="x-no-such-charset"><p>Stra\xc3\x9fe</p>')
    assert (page.charset, page.source, page.declared) == ("utf-8", "utf-8", "x-no-such-charset")
    assert page.fixes() == {"charset": "utf-8", "charset_from": "utf-8", "charset_declared": "x-no-such-charset"}


def test_undeclared_cyrillic_bytes_are_detected():
    data = "<p>Городской совет утвердил бюджет на следующий год после долгого обсуждения.</p>".encode("cp1251")
    page = decode_page(data)
    assert (page.text, page.charset, page.source) == (
        "<p>Городской совет утвердил бюджет на следующий год после долгого обсуждения.</p>", "cp1251", "detected")


def test_web_labels_mean_what_they_mean_to_browsers():
    assert [web_codec(label) for label in ("latin1", "US-ASCII", "gb2312", "x-sjis", "ks_c_5601-1987",
                                           "iso-8859-9", "tis-620", "utf8", "koi8-u", "bogus")] == [
        "windows-1252", "windows-1252", "gb18030", "cp932", "cp949", "cp1254", "cp874", "utf-8", "koi8-u", None]


# --- extraction -----------------------------------------------------------------------------


def test_a_page_becomes_an_article_with_its_metadata_caption_and_what_was_left_out():
    extracted = extract(Page(file="council-vote.html", index=0, date="2026-11-28", html=PAGE), HtmlSettings())
    article = extracted.article
    assert article.title == "Valley council backs new footbridge over the Varn"
    assert article.url == FOOTBRIDGE_URL  # the page's canonical link
    assert article.published == "2026-11-27"
    assert article.meta == {"author": "Mara Ellison", "sitename": "The Valley Post",
                            "description": "Councillors voted 9 to 2 for a footbridge linking the station to the "
                                           "market square."}
    assert article.captions == ["An artist's impression of the footbridge seen from the market square (Varn Council)"]
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == "Valley council backs new footbridge over the Varn"  # the clean stage drops it
    assert paragraphs[1].startswith("Councillors in Varnley voted by nine to two on Thursday evening")
    assert paragraphs[-1] == "A public exhibition of the design will open at the library on Monday and run until " \
                             "the end of December."
    assert len(paragraphs) == 6
    assert article.fixes == {"decoding": {"charset": "utf-8", "charset_from": "meta"},
                             "removed_lines": {"html_boilerplate": 14}}
    assert [(r["line"], r["text"]) for r in extracted.removed] == [
        (17, "The Valley Post"), (18, "Home"), (18, "News"), (18, "Sport"), (18, "Weather"),
        (19, "Subscribe today: three months for the price of one"),
        (24, "By Mara Ellison, local democracy reporter"),
        (33, "Related stories"), (34, "Market traders welcome longer opening hours"),
        (34, "Station car park to close for resurfacing"),
        (36, "Comments"), (36, "Great news, about time! - Posted by riverwatcher"),
        (38, "Copyright 2026 The Valley Post. All rights reserved."), (38, "Privacy policy | Contact us"),
    ]
    assert {r["rule"] for r in extracted.removed} == {"html_boilerplate"}
    assert {r["id"] for r in extracted.removed} == {"2026-11-28/council-vote.html#0"}


def test_every_visible_block_is_either_kept_or_accounted_for():
    extracted = extract(Page(file="p.html", index=0, date="2026-11-28", html=PAGE), HtmlSettings())
    article = extracted.article
    kept = " ".join([article.title, article.text.replace("\n", " "), *article.captions])
    for _, _, block in visible_blocks(lxml.etree.fromstring(PAGE.decode(), _PARSER)):
        assert block in kept or block in [r["text"] for r in extracted.removed]


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(["a", "b", "ab", "a.", "B"]), max_size=30),
       blocks=st.lists(st.lists(st.sampled_from(["a", "b", "ab", "a.", "B"]), max_size=4), max_size=12))
def test_whole_blocks_are_found_as_a_substring_search_finds_them(text, blocks):
    text, blocks = " ".join(text), [" ".join(block) for block in blocks]
    expected = [f" {block} " in f" {text} " for block in blocks]
    assert WholeBlocks(text).found(blocks) == expected

    class Indexed(WholeBlocks):
        SEARCH = 0  # the words' places, as for a page too long for the search

    assert Indexed(text).found(blocks) == expected


def test_a_page_too_complex_to_account_for_is_rejected_not_left_running(monkeypatch):
    monkeypatch.setattr(WholeBlocks, "SEARCH", 1000)
    monkeypatch.setattr(WholeBlocks, "WORK", 1000)
    # Forty blocks, each of words found everywhere in the text: each is looked for at
    # hundreds of places.
    html = "<html><body><article>" + "".join(f"<p>{'the fox ran by the river. ' * (5 + i)}</p>" for i in range(40))
    extracted = extract(Page(file="busy.html", index=0, date="2026-11-27", html=html + "</article></body></html>"),
                        HtmlSettings())
    assert extracted.article is None
    assert extracted.rejection.reason == "page too complex to account for what extraction left out (40 blocks)"


@pytest.mark.parametrize("name, html, reason", [
    ("binary.html", os.urandom(4096) + b"\x00" * 100, "binary content, not HTML"),
    ("empty-tags.html", b"<html><body></body></html>", "no article text found in the page"),
])
def test_a_page_without_an_article_is_rejected_with_why(name, html, reason):
    extracted = extract(Page(file=name, index=0, date="2026-11-28", html=html), HtmlSettings())
    assert extracted.article is None and extracted.rejection.reason == reason
    assert extracted.rejection.file == name and extracted.rejection.stage == "read"


def test_dates_are_looked_for_up_to_the_night_not_up_to_today():
    head = "<meta property='article:published_time' content='2027-03-01'>"
    html = article_page("Ferry", FERRY, head=head)
    before = extract(Page(file="p.html", index=0, date="2026-11-28", html=html), HtmlSettings()).article
    after = extract(Page(file="p.html", index=0, date="2027-03-02", html=html), HtmlSettings()).article
    assert (before.published, after.published) == (None, "2027-03-01")


# --- metadata: the author ---------------------------------------------------------------------

# Every branch of trafilatura's author expressions, and near misses of each.
AUTHOR_MARKUP = (
    "<div class='comments-list'><span class='author'>In the comments</span></div>"
    "<section class='Comments'><a rel='author'>A commenter</a></section>"
    "<div id='comments-2'><p class='byline'>Also a comment</p></div>"
    "<div id='commentlist'><p>x</p></div><span class='sidebar-left'><a class='author'>Side</a></span>"
    "<div class='my-article-share'>Share</div><div data-component='FigureBlock'><span itemprop='author'>P</span></div>"
    "<figure><figcaption class='byline'>Photo: Someone</figcaption></figure><time class='author'>Today</time>"
    "<div class='xcomments'><span class='writer'>kept: not at the start</span></div>"
    "<p class='meta-datetime'>pruned: meta-date inside</p><div class='title'>pruned</div>"
    "<strong class='post-authorName'>Ann Lee</strong><link rel='author' href='/ann'/>"
    "<span data-testid='AuthorURL'>Ann Lee</span><span itemprop='author name'>Ann</span>"
    "<address id='author'>Ann</address><p><rel>me</rel>Me myself</p><p><rel>me too</rel>not me</p>"
    "<author>Ann Lee</author><h3 class='BBL'>Bylined</h3><h4 id='zuozhe-1'>Zuo</h4><h5 id='author'>h5</h5>"
    "<li itemprop='x author'>any element</li><em class='screenname'>nick</em><i data-component='Byline'>Bl</i>"
    "<b id='theAuthor'>x</b><b id='AUTHOR'>upper: no</b><u class='Writer'>no: capital W</u>"
    "<span class='posted-by-line'>Posted</span><div class='username'>user</div><div class='user-name'>no</div>"
)


def author_trees():
    """Trees as trafilatura's loader makes them: the markup above, the sample pages, and
    (when the corpora are there) the 181 real pages."""
    from trafilatura.utils import load_html

    pages = [f"<html><body>{AUTHOR_MARKUP}</body></html>",
             f"<html><body><article>{AUTHOR_MARKUP}</article><p>{AUTHOR_MARKUP}</p></body></html>",
             *(decode_page(path.read_bytes(), None).text for path in sorted(SAMPLES.glob("*.html")))]
    folder = ROOT.parent / "shared" / "corpora" / "boilerplate" / "html" / "scrapinghub_aeb"
    pages += [decode_page(gzip.decompress(path.read_bytes()), None).text for path in sorted(folder.glob("*.html.gz"))]
    return [tree for tree in map(load_html, pages) if tree is not None]


def test_the_authors_expressions_are_trafilaturas():
    from trafilatura import xpaths

    from pipeline.read import pagemeta

    def squeezed(text: str) -> str:
        return " ".join(text.split())

    assert [squeezed(x.path) for x in xpaths.AUTHOR_XPATHS] == list(map(squeezed, pagemeta.AUTHOR_XPATHS))
    assert [squeezed(x.path) for x in xpaths.AUTHOR_DISCARD_XPATHS] == list(map(squeezed, pagemeta.AUTHOR_DISCARD_XPATHS))


def test_the_author_is_found_as_trafilatura_finds_it_element_for_element(corpora):
    from copy import deepcopy

    from trafilatura import metadata, xpaths
    from trafilatura.htmlprocessing import prune_unwanted_nodes

    from pipeline.read import pagemeta

    trees = author_trees()
    assert len(trees) == 2 + 2 + 181
    authors = Counter()
    for tree in trees:
        copy = deepcopy(tree)
        for expression, matching in zip(xpaths.AUTHOR_DISCARD_XPATHS, pagemeta.AUTHOR_DISCARD):
            assert matching(copy) == expression(copy)
        prune_unwanted_nodes(copy, xpaths.AUTHOR_DISCARD_XPATHS)
        assert list(pagemeta.author_candidates(copy)) == [expression(copy) for expression in xpaths.AUTHOR_XPATHS]
        author = pagemeta.extract_author(tree)
        assert author == metadata.extract_author(tree)
        authors[author is not None] += 1
    assert authors[True] > 100 and authors[False] > 25  # both kinds of page were met


def test_the_markups_authors_are_each_expressions_elements():
    from copy import deepcopy

    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.utils import load_html

    from pipeline.read import pagemeta

    tree = deepcopy(load_html(f"<html><body>{AUTHOR_MARKUP}</body></html>"))
    prune_unwanted_nodes(tree, pagemeta.AUTHOR_DISCARD)
    texts = [["".join(element.itertext()) for element in found] for found in pagemeta.author_candidates(tree)]
    assert texts == [
        ["Ann Lee", "", "Ann Lee", "Ann", "Ann", "meMe myself", "Ann Lee"],
        ["Ann", "Bylined", "Zuo", "Posted", "user"],
        ["kept: not at the start", "Ann Lee", "Ann", "Ann", "h5", "any element", "nick", "Bl", "x"],
    ]
    assert pagemeta.extract_author(load_html(f"<html><body>{AUTHOR_MARKUP}</body></html>")) == "Ann Lee"


# --- trafilatura's expressions as Python tests ------------------------------------------------

# Markup that takes each branch of the expressions in ``read.expressions``, and near misses.
EXPRESSION_MARKUP = (
    "<div id='comments'><p>c1</p></div><section class='Comment-box'>c2</section><div class='commentary'>no</div>"
    "<ul class='post-comments'><li>c3</li></ul><ol id='comol-1'><li>c4</li></ol><ol id='disqus_thread'><li>o</li></ol>"
    "<details class='article-comments'>c5</details><div id='x-comments'>no</div>"
    "<aside class='infinite-scroll'><h1>kept: has h1</h1></aside><div id='infinitescroll'>gone</div>"
    "<section class='mvp-post-add-box'><h1>gone anyway</h1></section><div class='elementor-share-buttons--x'>s</div>"
    "<div data-lp-replacement-content=''>lp</div><div role='Navigation'>nav</div><p role='NAV'>no: A and V</p>"
    "<span data-component='MostPopularStories-x'>pop</span><div class='x' id='cookie-bar'>class first: no</div>"
    "<div id='cookie-bar' class='x'>id first</div><p id='share-it'>sh</p><p class='ad-slot'>ad</p><p class='bad-slot'>no</p>"
    "<p class='top ad-slot'>ad2</p><span class='dfpAd'>dfp</span><div class='plain'>plain</div>"
    "<div class='comments-title'>t</div><div id='x' class='reply-1'>id first: no</div><b class='reply-2' id='x'>r</b>"
    "<i style='x' id='hidden-1'>style first: no</i><i id='hidden-2' style='x'>h</i><em style='display: none'>dn</em>"
    "<em style='display:none;'>dn2</em><u aria-hidden='true'>ah</u><u aria-hidden='false'>no</u><u class='is hidden'>sp</u>"
    "<main><div class='post'>b1</div><div class='post'>b2</div></main><section id='article-body'>b3</section>"
    "<article itemprop='articleBody'><div class='entry'>b4</div></article>"
)


def expression_trees():
    """Trees as trafilatura's loader makes them: the markup above (also as trafilatura's
    lists and items), the sample pages, and (when the corpora are there) the 181 real pages."""
    from trafilatura.utils import load_html

    listed = EXPRESSION_MARKUP.replace("<ul", "<list").replace("</ul>", "</list>").replace("<li", "<item").replace(
        "</li>", "</item>")
    pages = [f"<html><body>{EXPRESSION_MARKUP}</body></html>", f"<html><body><div>{listed}</div></body></html>",
             *(decode_page(path.read_bytes(), None).text for path in sorted(SAMPLES.glob("*.html")))]
    folder = ROOT.parent / "shared" / "corpora" / "boilerplate" / "html" / "scrapinghub_aeb"
    pages += [decode_page(gzip.decompress(path.read_bytes()), None).text for path in sorted(folder.glob("*.html.gz"))]
    return [tree for tree in map(load_html, pages) if tree is not None]


def test_the_expressions_stood_for_are_trafilaturas_and_put_back_after_the_block():
    from trafilatura import xpaths

    from pipeline.read import expressions

    originals = {(name, index): getattr(xpaths, name)[index] for name, index, _, _ in expressions.EXPRESSIONS}
    with expressions.installed() as swapped:
        assert swapped == len(expressions.EXPRESSIONS) == 7
        assert all(getattr(xpaths, name)[index] is matching for name, index, _, matching in expressions.EXPRESSIONS)
    assert all(getattr(xpaths, name)[index] is xpath for (name, index), xpath in originals.items())
    with pytest.raises(RuntimeError), expressions.installed():
        raise RuntimeError("an extraction fails")
    assert all(getattr(xpaths, name)[index] is xpath for (name, index), xpath in originals.items())
    # A list that holds another expression (another trafilatura) is left as it is.
    held = xpaths.BODY_XPATH[0]
    xpaths.BODY_XPATH[0] = lxml.etree.XPath(".//article")
    try:
        with expressions.installed() as swapped:
            assert swapped == 6 and xpaths.BODY_XPATH[0].path == ".//article"
    finally:
        xpaths.BODY_XPATH[0] = held


def test_the_markup_takes_each_expressions_branches_as_trafilatura_does():
    from trafilatura import xpaths
    from trafilatura.utils import load_html

    from pipeline.read import expressions

    tree = load_html(f"<html><body>{EXPRESSION_MARKUP}</body></html>")
    found = {}
    for name, index, _, matching in expressions.EXPRESSIONS:
        assert matching(tree) == getattr(xpaths, name)[index](tree)
        found[f"{name}[{index}]"] = [" ".join(element.itertext()) for element in matching(tree)]
    assert found == {
        "REMOVE_COMMENTS_AND_LISTS_XPATH[0]": ["c1", "c2", "c3", "c4", "c5", "t"],
        "REMOVE_COMMENTS_XPATH[0]": ["c1", "c2", "c5", "t"],
        "RAW_TREE_PRUNE_XPATH[0]": ["gone", "gone anyway"],
        "RAW_TREE_PRUNE_XPATH[1]": ["s"],
        "OVERALL_DISCARD_XPATH[0]": ["s", "lp", "nav", "pop", "id first", "sh", "ad", "ad2", "dfp"],
        "OVERALL_DISCARD_XPATH[1]": ["t", "r", "h", "dn", "dn2", "ah", "sp"],
        "BODY_XPATH[0]": ["b1", "b3", "b4"],
    }


def test_at_every_call_trafilatura_makes_the_tests_give_its_expressions_elements(corpora):
    import trafilatura
    from trafilatura import xpaths

    from pipeline.read import expressions

    calls = Counter()

    class Both:
        """trafilatura's expression, checked against the test standing for it."""

        def __init__(self, xpath, matching, name):
            self.xpath, self.matching, self.name, self.path = xpath, matching, name, xpath.path

        def __call__(self, tree):
            elements = self.xpath(tree)
            assert self.matching(tree) == elements, self.name
            calls[self.name] += 1
            return elements

    originals = [(getattr(xpaths, name), index, getattr(xpaths, name)[index])
                 for name, index, _, _ in expressions.EXPRESSIONS]
    try:
        for (held, index, xpath), (name, _, _, matching) in zip(originals, expressions.EXPRESSIONS):
            held[index] = Both(xpath, matching, f"{name}[{index}]")
        trees = expression_trees()
        assert len(trees) == 2 + 2 + 181
        for tree in trees:
            for fast in (True, False):
                trafilatura.bare_extraction(tree, fast=fast, favor_precision=True, include_tables=True,
                                            include_comments=False, deduplicate=False)
    finally:
        for held, index, xpath in originals:
            held[index] = xpath
    assert set(calls) == {f"{name}[{index}]" for name, index, _, _ in expressions.EXPRESSIONS}
    assert min(calls.values()) >= 2 * len(trees)


# --- extraction from the chain's own tree ---------------------------------------------------------


def test_owntree_finds_trafilatura_as_it_read_it_and_puts_it_back(monkeypatch):
    from trafilatura import core, utils
    from trafilatura.utils import load_html

    from pipeline.read import owntree

    tree = load_html("<html><body><p>One short page.</p></body></html>")
    originals = (core.load_html, core._prepare_tree, utils.INVALID_XML_CHARS)
    with owntree.installed() as trees:
        assert trees  # the pinned trafilatura is the one read
        assert core.load_html is not originals[0] and core._prepare_tree is not originals[1]
        assert utils.INVALID_XML_CHARS.pattern is originals[2]
        assert core.load_html(owntree.given(tree)) is tree and owntree.given(tree).tree is tree
        assert core.load_html("<html><body><p>x</p><p>y</p></body></html>") is not None
    assert (core.load_html, core._prepare_tree, utils.INVALID_XML_CHARS) == originals and owntree.given(tree) is tree
    with pytest.raises(RuntimeError), owntree.installed():
        raise RuntimeError("an extraction fails")
    assert (core.load_html, core._prepare_tree, utils.INVALID_XML_CHARS) == originals
    # Another trafilatura's functions: the trees are left to it (it copies them).
    monkeypatch.setitem(owntree.SOURCES, "_prepare_tree", "0" * 16)
    owntree._unchanged.cache_clear()
    try:
        with owntree.installed() as trees:
            assert not trees and core.load_html is originals[0] and owntree.given(tree) is tree
            assert utils.INVALID_XML_CHARS is not originals[2]  # the quick check stays: it is about the pattern
    finally:
        monkeypatch.undo()
        owntree._unchanged.cache_clear()


def test_the_metadata_read_first_fails_a_page_only_where_it_did_when_read_after(monkeypatch):
    # The metadata is now read before the extraction (which changes the tree): its error
    # still counts only for a page that has an article, as when it was read after it.
    from pipeline.read import html as html_module

    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(html_module, "page_metadata", deep)
    settings = load_rules().html
    with_article = extract(Page(file="p.html", index=0, date="2026-11-28", html=PAGE), settings)
    menu = b"<html><head><title>T</title></head><body><nav><a href='/'>Home</a></nav><div></div></body></html>"
    without = extract(Page(file="e.html", index=0, date="2026-11-28", html=menu), settings)
    assert with_article.rejection.reason == "HTML nested too deeply to extract"
    assert without.rejection.reason == "no article text found in the page"


def test_the_quick_check_finds_the_characters_trafilatura_removes():
    from trafilatura.utils import INVALID_XML_CHARS

    from pipeline.read.owntree import INVALID_XML_CHARS as quoted, has_invalid_xml_chars

    assert INVALID_XML_CHARS.pattern == quoted
    characters = [chr(c) for c in range(0x100)] + ["\u2028", "\ud800", "\udfff", "\ufeff", "\ufffd", "\ufffe",
                                                    "\uffff", "\U0001f600"]
    for c in characters:
        for text in (c, f"Café {c} au lait", f"{c}x", f"日本{c}"):
            assert has_invalid_xml_chars(text) == bool(INVALID_XML_CHARS.search(text)), repr(text)


def test_extracting_from_the_chains_own_tree_gives_trafilaturas_articles(corpora):
    import trafilatura
    from trafilatura.utils import load_html

    from pipeline.read import owntree

    options = dict(favor_precision=True, include_tables=True, include_comments=False, deduplicate=False)
    pages = [decode_page(path.read_bytes(), None).text for path in sorted(SAMPLES.glob("*.html"))]
    pages.append(pages[0].replace("<p>", "<p>\x0c", 3))  # characters its loader removes
    folder = corpora / "boilerplate" / "html" / "scrapinghub_aeb"
    pages += [decode_page(gzip.decompress(path.read_bytes()), None).text for path in sorted(folder.glob("*.html.gz"))]
    assert len(pages) == 2 + 1 + 181
    changed = 0
    for html in pages:
        for fast in (True, False):
            expected = trafilatura.bare_extraction(html, fast=fast, **options)
            with owntree.installed():
                tree = load_html(html)
                before = lxml.etree.tostring(tree)
                found = trafilatura.bare_extraction(owntree.given(tree), fast=fast, **options)
            assert (found and found.text) == (expected and expected.text)
            changed += lxml.etree.tostring(tree) != before
    assert changed >= len(pages)  # extracted from the tree itself: no copy


# --- WARC files ---------------------------------------------------------------------------------


def crawl(tmp_path: Path, name: str = "crawl.warc.gz") -> Path:
    """A crawl of our own: the footbridge page, a page sent chunked and gzip-compressed, an
    image, a page not found; each with its request and metadata records."""
    return write_warc(tmp_path / name, [
        Fetched(FOOTBRIDGE_URL, PAGE, headers=[("Content-Type", "text/html; charset=utf-8")]),
        Fetched("https://gazette.example/ferry", chunked(gzipped(article_page("New ferry", FERRY).encode())),
                headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"),
                         ("Content-Encoding", "gzip"), ("Last-Modified", "Sat, 28 Nov 2026 09:00:00 GMT")]),
        Fetched("https://gazette.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), headers=[("Content-Type", "image/png")]),
        Fetched("https://gazette.example/gone", b"<html><body>Not here</body></html>", status="404 Not Found"),
    ])


def warcio_records(path: Path) -> list[tuple[str, str | None, int]]:
    """Each record's type, URL and offset, as warcio reports them."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as handle:
        records = ArchiveIterator(handle)
        return [(record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), records.get_record_offset())
                for record in records]


def warcio_offsets(path: Path) -> dict[str, int]:
    """Each response record's offset as warcio reports it, by URL."""
    return {url: offset for kind, url, offset in warcio_records(path) if kind == "response"}


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_a_warc_file_gives_its_html_responses_and_counts_every_other_record(tmp_path, name):
    path = crawl(tmp_path, name)
    counts = WarcCounts()
    result = read_file(tmp_path, name, "2026-11-28", warc_counts=counts)
    assert result.rejections == []
    assert [(p.url, p.index, p.offset) for p in result.pages] == [
        (FOOTBRIDGE_URL, 0, warcio_offsets(path)[FOOTBRIDGE_URL]),
        ("https://gazette.example/ferry", 1, warcio_offsets(path)["https://gazette.example/ferry"]),
    ]
    assert result.pages[0].html == PAGE
    assert result.pages[1].html == article_page("New ferry", FERRY).encode()  # chunks joined, gzip undone
    assert result.pages[1].last_modified == "Sat, 28 Nov 2026 09:00:00 GMT"
    assert (counts.records, counts.pages) == (13, 2)
    assert counts.skipped == {"warcinfo": 1, "request": 4, "metadata": 4, "response image/png": 1, "response 404": 1}


def test_a_truncated_warc_keeps_the_records_before_and_names_where_it_broke(tmp_path):
    whole = crawl(tmp_path).read_bytes()
    offsets = warcio_offsets(tmp_path / "crawl.warc.gz")
    second = offsets["https://gazette.example/ferry"]
    (tmp_path / "cut.warc.gz").write_bytes(whole[: second + 200])  # inside the second response
    result = read_file(tmp_path, "cut.warc.gz", "2026-11-28")
    assert [p.url for p in result.pages] == [FOOTBRIDGE_URL]
    assert [(r.reason, r.offset) for r in result.rejections] == [
        ("broken WARC record: record cut short: the file ends inside its headers; the rest of the file is not read",
         second),
        ("truncated gzip data (file ends mid-stream)", second + 200),
    ]


def test_an_uncompressed_warc_cut_inside_a_page_is_rejected_not_read_short(tmp_path):
    whole = crawl(tmp_path, "crawl.warc").read_bytes()
    records = warcio_records(tmp_path / "crawl.warc")
    [(offset, next_offset)] = [(records[i][2], records[i + 1][2]) for i in range(len(records))
                               if records[i][:2] == ("response", FOOTBRIDGE_URL)]
    (tmp_path / "cut.warc").write_bytes(whole[: offset + 1500])
    result = read_file(tmp_path, "cut.warc", "2026-11-28")
    assert result.pages == []
    missing = next_offset - len(b"\r\n\r\n") - (offset + 1500)  # a record's block ends two line ends before the next
    assert [(r.reason, r.offset) for r in result.rejections] == [
        (f"broken WARC record: record cut short: the file ends {missing:,} bytes early; the rest of the file is "
         f"not read", offset)]


def test_files_that_are_not_warc_or_hold_no_page_are_rejected_saying_what_they_hold(tmp_path):
    (tmp_path / "notes.warc").write_bytes(b"these are my notes, not a crawl\n" * 5)
    write_warc(tmp_path / "requests.warc.gz", [])
    (tmp_path / "empty.warc").write_bytes(b"")
    result = {name: read_file(tmp_path, name, "2026-11-28") for name in ("notes.warc", "requests.warc.gz", "empty.warc")}
    assert [(r.reason, r.offset) for r in result["notes.warc"].rejections] == [
        ("broken WARC record: no WARC record here (starts 'these are my notes, not a crawl\\\\n'); "
         "the rest of the file is not read", 0)]
    assert [r.reason for r in result["requests.warc.gz"].rejections] == [
        "no HTML pages in the WARC file (skipped: 1 warcinfo)"]
    assert [r.reason for r in result["empty.warc"].rejections] == ["no HTML pages in the WARC file (no records)"]


def test_a_broken_record_header_stops_the_file_there(tmp_path):
    whole = crawl(tmp_path, "crawl.warc").read_bytes()
    second = warcio_offsets(tmp_path / "crawl.warc")["https://gazette.example/ferry"]
    damaged = whole[:second] + whole[second:].replace(b"Content-Length:", b"Content-Lenght:", 1)
    (tmp_path / "damaged.warc").write_bytes(damaged)
    result = read_file(tmp_path, "damaged.warc", "2026-11-28")
    assert [p.url for p in result.pages] == [FOOTBRIDGE_URL]
    assert [(r.reason, r.offset) for r in result.rejections] == [
        ("broken WARC record: record without a valid Content-Length; the rest of the file is not read", second)]


# --- language ----------------------------------------------------------------------------------


def test_the_identifier_gives_py3langids_answers(corpora):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    with gzip.open(corpora / "bbc" / "articles.jsonl.gz") as handle:
        texts = [orjson.loads(line)["text"] for line in handle]
    for name in ("in-the-wild", "synthetic", "negative", "language-names"):
        cases = json.loads((corpora / "mojibake" / f"{name}.json").read_text(encoding="utf-8"))
        texts += [case[key] for case in cases for key in ("original", "fixed") if key in case]
    ours = Identifier.shared()
    for text in texts:
        label, probability = reference.classify(text[:SAMPLE_CHARS])
        found, confidence = ours.classify(text, macro=False, quick=False)
        # Our sums are in double precision, py3langid's in single: the probability may
        # differ in its fourth decimal.
        assert found == label and abs(confidence - probability) <= 1.5e-4, text[:60]


def test_the_quick_read_gives_the_whole_samples_language(corpora):
    from pipeline.clean.boilerplate import _sample

    texts = [repair(case["original"]).text for name in ("in-the-wild", "synthetic", "language-names")
             for case in json.loads((corpora / "mojibake" / f"{name}.json").read_text(encoding="utf-8"))]
    with gzip.open(corpora / "bbc" / "articles.jsonl.gz") as handle:
        texts += [_sample(orjson.loads(line)["text"].split("\n")) for line in handle]
    for name in ("scrapinghub_aeb", "cleaneval_dev", "cleanportaleval", "trafilatura_eval_en"):
        with gzip.open(corpora / "boilerplate" / f"{name}.jsonl.gz") as handle:
            texts += [_sample(page[key].split("\n")) for page in map(orjson.loads, handle)
                      for key in ("fulltext", "extract", "gold") if page.get(key)]
    identifier = Identifier.shared()
    differ = [text[:60] for text in texts if identifier.classify(text)[0] != identifier.classify(text, quick=False)[0]]
    assert len(texts) > 3400 and differ == []


def test_texts_identified_together_get_the_answers_of_each_alone(corpora, monkeypatch):
    from pipeline import language

    from pipeline.clean.boilerplate import _sample

    with gzip.open(corpora / "bbc" / "articles.jsonl.gz") as handle:
        texts = [_sample(orjson.loads(line)["text"].split("\n")) for line in handle]
    for name in ("in-the-wild", "synthetic", "negative", "language-names"):
        cases = json.loads((corpora / "mojibake" / f"{name}.json").read_text(encoding="utf-8"))
        texts += [case[key] for case in cases for key in ("original", "fixed") if key in case]
    with gzip.open(corpora / "boilerplate" / "cleaneval_dev.jsonl.gz") as handle:
        texts += [_sample(page["fulltext"].split("\n")) for page in map(orjson.loads, handle)]
    # The edges: nothing to read, no feature, upper case, a lone surrogate, the quick
    # read's length and one more, a text whose quick read is unsure.
    german = "Der Gemeinderat hat am Dienstag den Haushalt beschlossen. " * 10
    texts += ["", " ", "\n\n", "ЗАГОЛОВОК НОВОСТИ", "broken \ud800 half", "a" * 400, "é" * 401,
              "Het college heeft dinsdag de begroting vastgesteld. " * 4 + german]
    identifier = Identifier.shared()
    alone = [identifier.classify(text) for text in texts]
    assert identifier.classify_many(texts) == alone  # the probabilities too, to the bit
    monkeypatch.setattr(language, "BLOCK_TEXTS", 7)  # a long list, a block at a time
    assert identifier.classify_many(texts) == alone
    assert identifier.classify_many(texts[::-1]) == alone[::-1]
    assert [identifier.classify_many([text]) for text in texts[-8:]] == [[answer] for answer in alone[-8:]]
    assert identifier.classify_many([]) == []
    # The Dutch lines fill the quick read, which is unsure; the whole sample is German.
    assert identifier.classify(texts[-1][:400]) == ("nl", 0.8702) and alone[-1] == ("de", 0.5939)


def test_varieties_count_as_their_language():
    assert Identifier.shared().classify("رسالة", macro=False)[0] == "arz"
    assert Identifier.shared().classify("رسالة")[0] == "ar"
    assert "arz" not in Identifier.shared().labels and "ar" in Identifier.shared().labels


def test_the_language_of_repaired_mojibake_is_right_where_a_person_can_tell(corpora):
    found, expected = {}, {}
    for name, labels in PERSON_CAN_TELL.items():
        cases = {c["label"]: c for c in json.loads((corpora / "mojibake" / f"{name}.json").read_text(encoding="utf-8"))}
        assert set(labels) <= set(cases), set(labels) - set(cases)
        for label, lang in labels.items():
            found[label] = Identifier.shared().classify(repair(cases[label]["original"]).text)[0]
            expected[label] = lang
    misses = {label: found[label] for label in found if found[label] != expected[label]}
    assert misses == KNOWN_MISSES
    assert len(found) == 53  # accuracy 52 / 53


def test_every_bbc_article_is_english_through_the_chain(corpora, tmp_path):
    night = Night(tmp_path, "2026-11-27")
    night.copy(corpora / "bbc" / "articles.jsonl.gz")
    assert night.run()
    langs = Counter(article["lang"] for article in night.records("articles.jsonl"))
    assert langs == {"en": night.report()["articles_out"]} and langs["en"] > 2000


# --- nights ------------------------------------------------------------------------------------


def test_the_sample_night_of_pages(tmp_path):
    night = Night(tmp_path, "2026-11-28")
    for path in sorted(SAMPLES.iterdir()):
        night.copy(path)
    assert night.run()
    articles = {a["id"]: a for a in night.records("articles.jsonl")}
    assert {i: (a["lang"], a["title"]) for i, a in articles.items()} == {
        "2026-11-28/council-vote.html#0": ("en", "Valley council backs new footbridge over the Varn"),
        "2026-11-28/crawl.warc.gz#1": ("en", "Rovers 2 City 1: late header settles the derby"),
        "2026-11-28/gare-varnay.html#0": ("fr", "La gare de Varnay rouvre après huit mois de travaux"),
        "vt-2026-11-28-library": ("en", "Library to open on Sundays from January"),
        "vt-2026-11-28-mill-lane": ("en", "Roadworks on Mill Lane until Christmas"),
    }
    gare = articles["2026-11-28/gare-varnay.html#0"]
    assert "« Nous avons voulu garder l’âme de la gare" in gare["text"]  # declared windows-1252, decoded so
    assert gare["fixes"]["decoding"] == {"charset": "windows-1252", "charset_from": "meta"}
    match = articles["2026-11-28/crawl.warc.gz#1"]
    assert match["source"] == {"file": "crawl.warc.gz", "index": 1, "line": None, "offset": 2934}
    assert match["url"] == "https://varnsport.example/reports/rovers-city"
    assert match["meta"] == {"fetched": "2026-11-28T03:00:00Z",
                             "warc_record_id": "<urn:uuid:00000000-0000-4000-8000-000000000006>",
                             "author": "Tom Brady-Hale", "sitename": "Varn Sport"}
    assert match["text"].count("\n\n") == 3 and match["fixes"]["removed_lines"] == {
        "html_boilerplate": 3, "repeated_headline": 1}
    assert articles["vt-2026-11-28-mill-lane"]["fixes"]["html"] == \
        "no article text found in the page: the record's text is used"
    [duplicate] = night.records("duplicates.jsonl")  # the footbridge page, crawled as well
    assert (duplicate["id"], duplicate["dup_of"], duplicate["method"]) == (
        "2026-11-28/crawl.warc.gz#0", "2026-11-28/council-vote.html#0", "exact")
    report = night.report()
    assert (report["pages"], report["lines_removed"]["html_boilerplate"]) == (6, 35)
    assert report["warc_skipped"] == {"metadata": 4, "request": 4, "response 404": 1, "response image/png": 1,
                                      "warcinfo": 1}
    removed = [r for r in night.records("removed.jsonl") if r["id"] == "2026-11-28/gare-varnay.html#0"]
    assert [(r["line"], r["rule"], r["text"]) for r in removed] == [
        (11, "html_boilerplate", "Accueil Région Sports S’abonner"),
        (19, "html_boilerplate", "© 2026 Le Courrier du Val – Tous droits réservés – Mentions légales")]


def test_a_gzip_bomb_is_rejected_without_inflating_it(tmp_path):
    from pipeline.read.files import OUT_BLOCK, GzipBlocks
    from tests.conftest import gzip_stream, traced_peak

    # 200 MB of HTML in 200 KB of gzip (one compressed block holds 1,000 times its size).
    pieces = [b"<html><body><p>"] + [b" " * (1 << 20)] * 200 + [b"</p></body></html>"]
    (tmp_path / "bomb.html.gz").write_bytes(gzip_stream(pieces))
    result, peak = traced_peak(lambda: read_file(tmp_path, "bomb.html.gz", "2026-11-27"))
    assert [r.reason for r in result.rejections] == ["page larger than 20,000,000 bytes (max_page_bytes)"]
    assert peak < 60_000_000  # the page's 20 MB and a block, not 200 MB
    with open(tmp_path / "bomb.html.gz", "rb") as handle:
        sizes = [len(block) for block in GzipBlocks(handle)]
    assert max(sizes) <= OUT_BLOCK and sum(sizes) == 200 * (1 << 20) + 33


def test_hostile_pages_are_rejected_and_the_night_completes(tmp_path):
    night = Night(tmp_path, "2026-11-28")
    night.add("good.html", article_page("New ferry", FERRY))
    night.add("huge.html", "<html><body><p>" + "word " * 4_200_000 + "</p></body></html>")  # 21 MB
    night.add("nested.html", "<html><body>" + "<div>" * 100_000 + "<p>" + " ".join(FERRY) + "</p>"
              + "</div>" * 100_000 + "</body></html>")
    night.add("photo.html", bytes(range(256)) * 64)
    night.add("wrong-charset.html", article_page("Café", [
        "Le café de la gare a rouvert ses portes après des travaux qui ont duré huit mois, à la grande joie "
        "des habitués du quartier et des voyageurs du matin."] * 3, "fr",
        "<meta charset='iso-8859-1'>").encode("utf-8"))  # declared Latin-1, sent as UTF-8
    write_warc(night.raw / "only-requests.warc.gz", [])
    whole = crawl(tmp_path).read_bytes()
    night.add("cut.warc.gz", whole[: warcio_offsets(tmp_path / "crawl.warc.gz")["https://gazette.example/ferry"] + 200])
    assert night.run()
    rejected = {(r["file"], r["reason"]) for r in night.records("rejected.jsonl")}
    assert rejected == {
        ("huge.html", "page larger than 20,000,000 bytes (max_page_bytes)"),
        ("nested.html", "no article text found in the page"),  # libxml2 stops nesting at 256 levels
        ("photo.html", "binary content, not HTML"),
        ("only-requests.warc.gz", "no HTML pages in the WARC file (skipped: 1 warcinfo)"),
        ("cut.warc.gz", "broken WARC record: record cut short: the file ends inside its headers; "
                        "the rest of the file is not read"),
        ("cut.warc.gz", "truncated gzip data (file ends mid-stream)"),
    }
    articles = {a["id"]: a for a in night.records("articles.jsonl")}
    assert set(articles) == {"2026-11-28/good.html#0", "2026-11-28/wrong-charset.html#0",
                             "2026-11-28/cut.warc.gz#0"}
    fixed = articles["2026-11-28/wrong-charset.html#0"]
    assert fixed["title"] == "Café" and fixed["text"].startswith("Le café de la gare a rouvert ses portes après")
    assert fixed["fixes"]["encoding"]["repaired"] is True and fixed["lang"] == "fr"


def test_html_files_a_warc_and_jsonl_html_records_of_the_same_pages_give_the_same_articles(tmp_path):
    pages = {"https://gazette.example/ferry": article_page("New ferry", FERRY),
             "https://gazette.example/footbridge": PAGE.decode(),
             "https://gazette.example/gare": (SAMPLES / "gare-varnay.html").read_bytes().decode("cp1252")}
    files, warc, records = Night(tmp_path / "files", "2026-11-28"), Night(tmp_path / "warc", "2026-11-28"), \
        Night(tmp_path / "jsonl", "2026-11-28")
    for n, html in enumerate(pages.values()):
        files.add(f"page-{n}.html", html)
    write_warc(warc.raw / "crawl.warc.gz", [Fetched(url, html.encode()) for url, html in pages.items()])
    records.add("pages.jsonl", "".join(orjson.dumps({"url": url, "html": html}).decode() + "\n"
                                       for url, html in pages.items()))
    fields = ("title", "text", "captions", "published", "lang")
    got = []
    for night in (files, warc, records):
        assert night.run()
        got.append([tuple(a[f] for f in fields) for a in night.records("articles.jsonl")])
    assert got[0] == got[1] == got[2] and len(got[0]) == 3


def test_languages_setting_keeps_only_those_and_rejects_the_others_with_the_language(tmp_path):
    night = Night(tmp_path, "2026-11-28")
    for path in sorted(SAMPLES.iterdir()):
        night.copy(path)
    assert night.run(languages="en, de")
    assert {a["lang"] for a in night.records("articles.jsonl")} == {"en"}
    [french] = [r for r in night.records("rejected.jsonl") if r.get("lang")]
    assert (french["id"], french["lang"], french["stage"]) == ("2026-11-28/gare-varnay.html#0", "fr", "clean")
    assert french["confidence"] == 1.0
    assert french["reason"] == "language fr (1.00 sure) not among the languages kept (en, de)"


def test_a_night_of_pages_is_the_same_with_several_processes_and_workers(tmp_path):
    outputs = []
    for workers, processes in ((1, 1), (2, 2)):
        night = Night(tmp_path / f"{workers}-{processes}", "2026-11-28")
        for path in sorted(SAMPLES.iterdir()):
            night.copy(path)
        assert night.run(workers=workers, processes=processes)
        outputs.append(night.output_bytes())
    assert outputs[0] == outputs[1]


# --- the real pages -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aeb(tmp_path_factory):
    """scrapinghub_aeb's 181 real pages: their gold, and the night of .html.gz files and
    the night of one .warc.gz built from them, both run."""
    from tests.conftest import require

    corpora = require(ROOT.parent / "shared" / "corpora")
    folder = corpora / "boilerplate" / "html" / "scrapinghub_aeb"
    with gzip.open(corpora / "boilerplate" / "scrapinghub_aeb.jsonl.gz") as handle:
        gold = {record["id"]: record for record in map(orjson.loads, handle)}
    root = tmp_path_factory.mktemp("aeb")
    html, warc = Night(root / "html", "2026-11-27"), Night(root / "warc", "2026-11-27")
    fetches = []
    for path in sorted(folder.glob("*.html.gz")):
        html.copy(path)
        fetches.append(Fetched(gold[path.name.removesuffix(".html.gz")]["url"], gzip.decompress(path.read_bytes())))
    write_warc(warc.raw / "aeb.warc.gz", fetches)
    assert html.run() and warc.run()
    return gold, html, warc


@pytest.mark.corpus
def test_real_pages_beat_trafilaturas_own_f1(aeb):
    gold, html, _ = aeb
    articles = {a["source"]["file"].removesuffix(".html.gz"): a for a in html.records("articles.jsonl")}
    assert len(articles) == 181 and html.records("rejected.jsonl") == []
    score = score_texts((articles[key]["text"], page["gold"]) for key, page in gold.items())
    # trafilatura alone, as a user calls it (its defaults), on the same pages' bytes.
    import trafilatura

    folder = ROOT.parent / "shared" / "corpora" / "boilerplate" / "html" / "scrapinghub_aeb"
    alone = score_texts((trafilatura.extract(gzip.decompress((folder / f"{key}.html.gz").read_bytes())) or "",
                         page["gold"]) for key, page in gold.items())
    assert score.f1 > alone.f1 and score.precision > alone.precision
    assert score.f1 >= 0.96  # a floor well under the figure the settings were chosen at


@pytest.mark.corpus
def test_the_warc_night_gives_the_html_nights_articles(aeb):
    _, html, warc = aeb
    fields = ("title", "text", "captions", "published", "lang")
    from_html = sorted(tuple(a[f] for f in fields) for a in html.records("articles.jsonl"))
    from_warc = sorted(tuple(a[f] for f in fields) for a in warc.records("articles.jsonl"))
    assert from_html == from_warc and len(from_warc) == 181
    assert warc.report()["warc_skipped"] == {"metadata": 181, "request": 181, "warcinfo": 1}


@pytest.mark.corpus
def test_what_extraction_left_out_is_in_removed_jsonl(aeb):
    _, html, _ = aeb
    removed = Counter(r["rule"] for r in html.records("removed.jsonl"))
    assert removed["html_boilerplate"] == html.report()["lines_removed"]["html_boilerplate"] > 20000



def test_the_fast_mode_falls_back_to_the_full_one_where_it_finds_too_little(corpora):
    """A real page whose article trafilatura's fast mode misses (it gives a teaser of a few
    dozen words): with the shipped fast_below_words the full mode runs again and the
    article is the full mode's, word for word; a page the fast mode gets right keeps the
    fast mode's answer."""
    from pipeline.clean.rules import load_rules
    from pipeline.shipped import RULES

    folder = corpora / "boilerplate" / "html" / "scrapinghub_aeb"
    shipped = load_rules(RULES).html
    assert shipped.fast_below_words == 100

    def text(name: str, settings: HtmlSettings) -> str:
        html = gzip.decompress((folder / f"{name}.html.gz").read_bytes())
        return extract(Page(file=f"{name}.html", index=0, date="2026-11-27", html=html), settings).article.text

    missed = "0ec95c7261d122f304728e90c983450ef1ce1e0b423546835c397d50aaf0d0f2"
    full, fast_only = HtmlSettings(fast_below_words=0), HtmlSettings(fast_below_words=1)
    assert len(text(missed, fast_only).split()) < 30
    assert text(missed, shipped) == text(missed, full)
    assert len(text(missed, shipped).split()) > 500
    found = "b6fb53e9fb043c98eb1e6530a1074c40922e29025f5454809f3938a7c174faa3"
    assert text(found, shipped) == text(found, fast_only) and len(text(found, shipped).split()) >= 100


@pytest.mark.parametrize("value", [-1, 2.5, True, "100"])
def test_fast_below_words_must_be_a_whole_number(value):
    from pipeline.clean.rules import RulesError

    with pytest.raises(RulesError, match="fast_below_words"):
        HtmlSettings(fast_below_words=value)
