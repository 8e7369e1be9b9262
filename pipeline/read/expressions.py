"""trafilatura's costliest XPath expressions, as Python tests over the elements.

libxml2 evaluates an expression's predicate, ten to forty attribute tests and regular
expressions, on every element, building a string for each test: trafilatura spends more
than half of a page's extraction in a few ``.//*[...]`` expressions (7.4 of its 15 ms a
page on the bench's pages). The same tests in Python, over only the elements whose tag
the expression names (lxml skips the others without making them Python objects), take a
fraction of that, and select the same elements: the regular expressions are trafilatura's
own, run by Python's ``re`` as lxml's ``re:test`` runs them (a search, on the attribute's
value or an empty string); a union of attributes (``@id|@class``) gives its first in the
element's order, as XPath's string value of a node set does.

:func:`installed` puts them in trafilatura's lists for the length of a ``with`` block, and
only where the list still holds the expression quoted here (:data:`EXPRESSIONS`); the tests
check that each is still trafilatura's and that both give the same elements on every page
of the corpora and on markup that takes every branch.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator

import lxml.etree


def search(pattern: str) -> Callable[[str], Any]:
    """``re:test(@name, pattern)``'s test, given the value or an empty string."""
    return re.compile(pattern).search


def first_of(element: Any, names: tuple[str, ...]) -> str:
    """``@a|@b`` as a string: the value of the first of the attributes the element has,
    in the element's own order (XPath's document order), or an empty string."""
    for name, value in element.items():
        if name in names:
            return value
    return ""


class Matching:
    """Elements for which ``test`` holds, in document order, as an XPath expression gives
    them (``expression(tree)``); ``descendants``: below the tree's root only (``.//*``),
    else the root too (``//*``, from a tree that is its document's root); ``tags``: the
    only tags the test can accept; ``first``: only the first such child of each parent
    (``.//*[test][1]``)."""

    def __init__(self, test: Callable[[Any], bool], descendants: bool = False, tags: tuple[str, ...] = (),
                 first: bool = False) -> None:
        self.test, self.descendants, self.first = test, descendants, first
        self.tags = tags or (lxml.etree.Element,)  # only these (the walk skips the others without a proxy)

    def __call__(self, tree: Any) -> list:
        elements = tree.iterdescendants(*self.tags) if self.descendants else tree.iter(*self.tags)
        if not self.first:
            return [element for element in elements if self.test(element)]
        found, parents = [], set()
        for element in elements:
            if self.test(element):
                parent = element.getparent()
                if parent not in parents:
                    parents.add(parent)
                    found.append(element)
        return found


# --- the expressions ----------------------------------------------------------------------

_COMMENTS_ID = search("^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)")
_COMMENTS_CLASS = search("^[Cc]omment(?!ary)|(?:article|post)-comments")
_COMMENTS_LIST_ID = search("^(?:[Cc]omment(?!ary)|comol)")


def _comments(element: Any) -> bool:
    get = element.get
    return bool(_COMMENTS_ID(get("id") or "") or _COMMENTS_CLASS(get("class") or ""))


def _comments_and_lists(element: Any) -> bool:
    get = element.get
    key, value = get("id") or "", get("class") or ""
    return bool((_COMMENTS_ID(key) or _COMMENTS_CLASS(value))
                and (element.tag not in ("ol", "ul") or _COMMENTS_LIST_ID(key) or _COMMENTS_CLASS(value)))


_ADDED_POSTS = search("mvp-post-add-(?:box|wrap)|infinite-?scroll")
_ADDED_BOX = search("mvp-post-add-(?:box|wrap)")


def _added_posts(element: Any) -> bool:
    get = element.get
    key, value = get("id") or "", get("class") or ""
    return bool((_ADDED_POSTS(key) or _ADDED_POSTS(value))
                and (next(element.iterdescendants("h1"), None) is None or _ADDED_BOX(key) or _ADDED_BOX(value)))


def _share_buttons(element: Any) -> bool:
    value = element.get("class")
    return value is not None and "elementor-share-buttons" in value


_COOKIE = search("cookie")
_DISCARD_ID = search(
    "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:jp-|dpsp-content)|"
    "bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-")
_DISCARD_CLASS = search(
    "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|"
    "^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|"
    "taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list|consent|"
    "modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp|user-info|"
    "user-profile|-icon|article-infos|message-container|slide|viewport|overlay|options|expand|obfuscated|blurred|"
    "mol-factbox|yin|zlylin|nfoline")


def _discarded(element: Any) -> bool:
    get = element.get
    role, component = get("role"), get("data-component")
    return bool(get("data-lp-replacement-content") is not None
                or role is not None and "nav" in role.replace("N", "n")
                or component is not None and "MostPopularStories" in component
                or _COOKIE(first_of(element, ("id", "class")))
                or _DISCARD_ID(get("id") or "") or _DISCARD_CLASS(get("class") or ""))


_HIDDEN = search("hidden")
_HIDDEN_ID = search("reader-comments|akismet")
_HIDDEN_CLASS = search("^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden|"
                       " hide|noprint|notloaded")


def _hidden(element: Any) -> bool:
    get = element.get
    value, style = get("class"), get("style")
    return bool(value == "comments-title"
                or first_of(element, ("id", "class")).startswith("reply-")
                or _HIDDEN(first_of(element, ("id", "style")))
                or style is not None and ("display:none" in style or "display: none" in style)
                or _HIDDEN_ID(get("id") or "") or _HIDDEN_CLASS(value or "")
                or get("aria-hidden") == "true")


_BODY_ID = search("(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text")
_BODY_CLASS = search("post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|article-?text|"
                     "articleText|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|"
                     "articleBody|ArticleContent|body-text|article__container")


def _body(element: Any) -> bool:
    get = element.get
    value = get("class")
    return bool(value in ("post", "entry") or get("itemprop") == "articleBody" or get("id") == "articleContent"
                or _BODY_ID(get("id") or "") or _BODY_CLASS(value or ""))


# (list in trafilatura.xpaths, index, the expression there, what stands for it)
EXPRESSIONS = (
    ("REMOVE_COMMENTS_AND_LISTS_XPATH", 0, """.//*[self::div or self::list or self::section or self::details or self::ol or self::ul][
        re:test(@id, '^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or
        re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')][
        not(self::ol or self::ul) or re:test(@id, '^(?:[Cc]omment(?!ary)|comol)') or re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]""",
     Matching(_comments_and_lists, descendants=True, tags=("div", "list", "section", "details", "ol", "ul"))),
    ("REMOVE_COMMENTS_XPATH", 0, """.//*[self::div or self::list or self::section or self::details][
        re:test(@id, '^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or
        re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]""",
     Matching(_comments, descendants=True, tags=("div", "list", "section", "details"))),
    ("RAW_TREE_PRUNE_XPATH", 0, """.//*[self::div or self::section or self::aside][
        re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') or
        re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][
        not(.//h1) or re:test(@id, 'mvp-post-add-(?:box|wrap)') or re:test(@class, 'mvp-post-add-(?:box|wrap)')]""",
     Matching(_added_posts, descendants=True, tags=("div", "section", "aside"))),
    ("RAW_TREE_PRUNE_XPATH", 1, ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
     Matching(_share_buttons, descendants=True, tags=("div", "section", "aside"))),
    ("OVERALL_DISCARD_XPATH", 0, """.//*[self::div or self::item or self::list or self::p or self::section or self::span][
        @data-lp-replacement-content or
        contains(translate(@role, 'N', 'n'), 'nav') or
        contains(@data-component, 'MostPopularStories') or
        re:test(@id|@class, 'cookie') or
        re:test(@id, '^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:jp-|dpsp-content)|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-') or
        re:test(@class, '^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d|outbrain|taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed|tag-list|consent|modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating|attachment|timestamp|user-info|user-profile|-icon|article-infos|message-container|slide|viewport|overlay|options|expand|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline')]""",
     Matching(_discarded, descendants=True, tags=("div", "item", "list", "p", "section", "span"))),
    ("OVERALL_DISCARD_XPATH", 1, """.//*[@class='comments-title' or
        starts-with(@id|@class, 'reply-') or
        re:test(@id|@style, 'hidden') or
        contains(@style, 'display:none') or contains(@style, 'display: none') or
        re:test(@id, 'reader-comments|akismet') or
        re:test(@class, '^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide|noprint|notloaded') or @aria-hidden='true']""",
     Matching(_hidden, descendants=True)),
    ("BODY_XPATH", 0, """.//*[self::article or self::div or self::main or self::section][
        @class='post' or @class='entry' or
        @itemprop='articleBody' or @id='articleContent' or
        re:test(@id, '(?:entry|article|art)-content|article__content|article(?:-|__)?body|articleBody|body-text') or
        re:test(@class, 'post[-_]text|post-body|post-?entry|post[-_]?content|postContent|post_inner_wrapper|article-?text|articleText|(?:entry|page|text|article|art)-content|article__content|article(?:-|__)?body|articleBody|ArticleContent|body-text|article__container')
        ][1]""",
     Matching(_body, descendants=True, tags=("article", "div", "main", "section"), first=True)),
)


def squeezed(expression: str) -> str:
    """An expression with its whitespace squeezed (to compare it with trafilatura's)."""
    return " ".join(expression.split())


@contextlib.contextmanager
def installed() -> Iterator[int]:
    """trafilatura's lists with these tests in place of the expressions they stand for,
    for the ``with`` block (gives how many were put in: none where trafilatura's list
    holds another expression than the one quoted)."""
    from trafilatura import xpaths

    swapped = []
    for name, index, expression, matching in EXPRESSIONS:
        held = getattr(xpaths, name)
        if index < len(held) and squeezed(getattr(held[index], "path", "")) == squeezed(expression):
            swapped.append((held, index, held[index]))
            held[index] = matching
    try:
        yield len(swapped)
    finally:
        for held, index, original in swapped:
            held[index] = original
