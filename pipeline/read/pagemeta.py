"""A page's metadata (title, author, URL, site name, description, date), as trafilatura
finds them, step for step, at less cost.

trafilatura reads a page's author, when its meta tags and JSON-LD name none, by pruning a
copy of the page with two XPath expressions and then trying three more, in order
(``trafilatura.metadata.extract_author``). libxml2 evaluates each of those predicates,
ten to twenty attribute tests, element by element, at 2 to 4 ms a page: 9 ms for an
author, a third of the pages' extraction besides trafilatura's own. Here the same five
expressions are plain Python tests over the page's elements (as in ``expressions``,
whose notes say why they give the same elements; :data:`AUTHOR_XPATHS` and
:data:`AUTHOR_DISCARD_XPATHS` quote trafilatura's; the tests check that they are still
its expressions and that both select the same elements on every page of the corpora).
"""

from __future__ import annotations

import datetime as dt
from copy import deepcopy
from typing import Any

import lxml.etree

from pipeline.read.expressions import Matching, search

# The metadata an article takes from its page (``Article.title``, ``url``, ``published``
# and ``meta``).
METADATA = ("title", "author", "url", "sitename", "description", "date")


def page_metadata(tree: Any, url: str | None, date: str) -> dict[str, str | None]:
    """The page's :data:`METADATA`, as ``trafilatura.metadata.extract_metadata`` finds
    them, step for step, without the fields no article uses (categories, tags, licence,
    host name), which cost a tenth of extracting a page. Dates are looked for up to the
    night (plus a day for time zones): not up to today, so a page's date does not depend
    on when the night is run. Only in the page's metadata, markup and URL: the extensive
    search takes a footer's "Copyright 2026" for a date of publication (2026-01-01)."""
    from htmldate import find_date
    from trafilatura import metadata as tm

    found = tm.examine_meta(tree)
    if found.author and " " not in found.author:
        found.author = None
    try:
        found = tm.extract_meta_json(tree, found)
    except Exception:  # as trafilatura: bugs in its JSON-LD reading
        pass
    if not found.title:
        found.title = tm.extract_title(tree)
    if not found.author:
        found.author = extract_author(tree)
    if not found.url:
        found.url = tm.extract_url(tree, url)
    found.date = find_date(tree, url=found.url, max_date=_night_end(date), original_date=True,
                           extensive_search=False, outputformat="%Y-%m-%d")
    if not found.sitename:
        found.sitename = tm.extract_sitename(tree)
    if found.sitename:
        found.sitename = found.sitename.lstrip("@")
        if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
            found.sitename = found.sitename.title()
    elif found.url:
        match = tm.META_URL.match(found.url)
        if match:
            found.sitename = match[1]
    found.clean_and_trim()
    return {name: getattr(found, name) for name in METADATA}


def extract_author(tree: Any) -> str | None:
    """``trafilatura.metadata.extract_author``: a copy of the page pruned of comments,
    sidebars, dates and figures, then the first element that names an author, by the
    expressions in order, whose text is 3 to 119 characters long.

    >>> import lxml.html
    >>> extract_author(lxml.html.fromstring(
    ...     "<html><body><div class='comments'><span class='author'>A reader</span></div>"
    ...     "<p>Text.</p><p class='byline'>By Ann Lee</p></body></html>"))
    'Ann Lee'
    """
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.json_metadata import normalize_authors
    from trafilatura.metadata import extract_metainfo

    subtree = prune_unwanted_nodes(deepcopy(tree), AUTHOR_DISCARD)
    found = author_candidates(subtree)  # the three expressions' elements, in one walk
    author = extract_metainfo(subtree, [lambda _, elements=elements: elements for elements in found], len_limit=120)
    if author:
        author = normalize_authors(None, author)
    return author


def _string_value(element: Any) -> str:
    """An element's XPath string value: all the text inside it, in order."""
    return "".join(element.itertext())


_SPECIFIC_TAGS = frozenset(("a", "address", "div", "link", "p", "span", "strong"))
_GENERIC_TAGS = frozenset(("a", "div", "h3", "h4", "p", "span"))
_DISCARD_TAGS = ("a", "div", "section", "span")
_SPECIFIC_CLASS = search("author-?name|AuthorName|authorName")
_GENERIC_ID = search("author|zuozhe|bianji|xiaobian")
_GENERIC_CLASS = search("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ANY_ID = search("[Aa]uthor")
_ANY_CLASS = search("[Aa]uthor|screenname|writer|[Bb]yline")
_DISCARD_ID = search("^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = search("^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                         "article-(?:share|support)|print|category|meta-date|meta-reviewer")


def author_candidates(tree: Any) -> tuple[list, list, list]:
    """The elements each of :data:`AUTHOR_XPATHS` selects from a tree that is its
    document's root, in document order, from one walk over the elements."""
    specific, generic, anywhere = [], [], []
    # rel='me': an element with a child <rel> whose text is "me" (found once, by tag)
    # (the parents themselves kept, not their ids: a proxy let go may give its id to another)
    with_me = {rel.getparent() for rel in tree.iter("rel") if _string_value(rel) == "me"}
    for element in tree.iter(lxml.etree.Element):
        tag, get = element.tag, element.get
        key, value, prop, component = get("id"), get("class"), get("itemprop"), get("data-component")
        if tag == "author" or tag in _SPECIFIC_TAGS and (
                get("rel") == "author" or key == "author" or value == "author" or prop == "author name"
                or element in with_me or get("data-testid") in ("AuthorCard", "AuthorURL")
                or _SPECIFIC_CLASS(value or "")):
            specific.append(element)
        if key is None and value is None and prop is None and component is None:
            continue  # none of the tests below can hold
        if tag in _GENERIC_TAGS and (
                value in ("byline", "username", "byl", "BBL") or prop is not None and "author" in prop
                or _GENERIC_ID(key or "") or _GENERIC_CLASS(value or "")):
            generic.append(element)
        if (component is not None and "Byline" in component or prop is not None and "author" in prop
                or _ANY_ID(key or "") or _ANY_CLASS(value or "")):
            anywhere.append(element)
    return specific, generic, anywhere


def _author_discard(element: Any) -> bool:
    get = element.get
    key, value, component = get("id"), get("class"), get("data-component")
    return (key == "comments" or value in ("comments", "title", "date") or bool(_DISCARD_ID(key or ""))
            or bool(_DISCARD_CLASS(value or "")) or component is not None and "Figure" in component)


# trafilatura's expressions (``trafilatura.xpaths``), each beside the test that stands for it.
AUTHOR_XPATHS = (
    """//*[self::a or self::address or self::div or self::link or self::p or self::span or self::strong][
    @rel='author' or @id='author' or @class='author' or @itemprop='author name' or rel='me' or
    @data-testid='AuthorCard' or @data-testid='AuthorURL' or
    re:test(@class, 'author-?name|AuthorName|authorName')]|//author""",
    """//*[self::a or self::div or self::h3 or self::h4 or self::p or self::span][
    @class='byline' or @class='username' or @class='byl' or @class='BBL' or
    contains(@itemprop, 'author') or
    re:test(@id, 'author|zuozhe|bianji|xiaobian') or
    re:test(@class, 'author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name')]""",
    """//*[
    contains(@data-component, 'Byline') or contains(@itemprop, 'author') or
    re:test(@id, '[Aa]uthor') or
    re:test(@class, '[Aa]uthor|screenname|writer|[Bb]yline')]""",
)
AUTHOR_DISCARD_XPATHS = (
    """.//*[self::a or self::div or self::section or self::span][
    @id='comments' or @class='comments' or @class='title' or @class='date' or
    re:test(@id, '^comments|comment-?list|ProductReviews') or
    re:test(@class, '^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|article-(?:share|support)|print|category|meta-date|meta-reviewer') or
    contains(@data-component, 'Figure')]""",
    "//time|//figure",
)
AUTHOR_DISCARD = (Matching(_author_discard, descendants=True, tags=_DISCARD_TAGS),
                  Matching(lambda element: True, tags=("time", "figure")))


def _night_end(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()
