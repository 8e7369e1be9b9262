"""Splitting dumps into articles, and the layout rules that clean each article."""

from pipeline.clean.boilerplate import CleanContext, clean_lines
from pipeline.clean.rules import load_rules
from pipeline.read.segment import split_dump, split_single

CONTEXT = CleanContext(load_rules())


def _clean(chunk):
    numbers = [chunk.first_line + 1 + j for j in range(len(chunk.lines))]
    return clean_lines(chunk.title, chunk.lines, numbers, CONTEXT, file="dump.txt")


def test_seed_splits_into_its_two_articles(seed_lines):
    chunks, stray = split_dump(seed_lines[1:])
    assert [c.title for c in chunks] == [seed_lines[1], seed_lines[33]]
    assert [c.first_line for c in chunks] == [1, 33]
    assert stray == []


def test_seed_articles_are_their_body_paragraphs(seed_lines):
    chunks, _ = split_dump(seed_lines[1:])
    first, second = (_clean(c) for c in chunks)
    assert first.text == "\n\n".join(seed_lines[n] for n in range(13, 30, 2))
    assert second.text == "\n\n".join(seed_lines[n] for n in range(45, 64, 2))


def test_seed_captions_are_kept_once_each(seed_lines):
    chunks, _ = split_dump(seed_lines[1:])
    first, second = (_clean(c) for c in chunks)
    assert first.captions == [seed_lines[3]]
    assert second.captions == [seed_lines[35]]


def test_seed_removals_name_rule_and_line(seed_lines):
    chunks, _ = split_dump(seed_lines[1:])
    removed = [(r.rule, r.line) for r in _clean(chunks[0]).removed]
    assert removed == [
        ("caption", 3), ("repeated_caption", 4), ("widget_marker", 5), ("widget_counter", 6),
        ("repeated_headline", 8), ("repeated_caption", 10), ("repeated_caption", 11),
    ]


LAYOUT_VARIANTS = """\
First Story Headline

TT

First Story Headline

No caption and no counter line: the body starts here.

Second paragraph.



Second Story Headline

Caption printed once. REUTERS/Jane Doe
TT
20

Second Story Headline

Caption printed once. REUTERS/Jane Doe

Body of the second story.

2

0

Attendance: the line above and below are scores, not markers.



Third Story Headline

Caption one (AFP)
Caption one (AFP)
Caption two (Asharq Al-Awsat)
Caption two (Asharq Al-Awsat)
TT
7

Third Story Headline

Caption one (AFP)
Caption one (AFP)
Caption two (Asharq Al-Awsat)
Caption two (Asharq Al-Awsat)

Third body.
"""


def test_layout_variants_split_and_clean_exactly():
    chunks, stray = split_dump(LAYOUT_VARIANTS.split("\n"))
    cleaned = [_clean(c) for c in chunks]
    assert [c.title for c in chunks] == ["First Story Headline", "Second Story Headline", "Third Story Headline"]
    assert [c.text for c in cleaned] == [
        "No caption and no counter line: the body starts here.\n\nSecond paragraph.",
        "Body of the second story.\n\n2\n\n0\n\nAttendance: the line above and below are scores, not markers.",
        "Third body.",
    ]
    assert [c.captions for c in cleaned] == [
        [],
        ["Caption printed once. REUTERS/Jane Doe"],
        ["Caption one (AFP)", "Caption two (Asharq Al-Awsat)"],
    ]
    assert stray == []


def test_windows_line_ends_and_trailing_spaces_do_not_matter():
    crlf = LAYOUT_VARIANTS.replace("\n", "  \n")
    chunks, _ = split_dump(crlf.split("\n"))
    assert [_clean(c).text for c in chunks] == [
        _clean(c).text for c in split_dump(LAYOUT_VARIANTS.split("\n"))[0]
    ]


def test_text_before_the_first_headline_is_reported():
    lines = ["Site navigation", "", "Headline", "", "TT", "", "Headline", "", "Body."]
    chunks, stray = split_dump(lines)
    assert [c.title for c in chunks] == ["Headline"]
    assert stray == [0]


def test_text_without_markers_is_one_article():
    chunks, stray = split_single(["", "  A Headline  ", "", "Body line.", "", ""])
    assert [(c.title, c.lines, c.first_line) for c in chunks] == [("A Headline", ("", "Body line."), 2)]
    assert stray == []


# --- a dump read line by line gives the whole dump's articles --------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipeline.read.segment import Stray, stream_dump  # noqa: E402

DUMP_LINES = st.sampled_from(["Headline A", "Headline B", "", "", "Cap (AFP)", "TT", "20", "Body one.",
                              "Body two, longer.", "3", "  "])


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(DUMP_LINES, max_size=80), window=st.integers(1, 30))
def test_a_dump_streamed_in_windows_splits_as_the_whole_dump(lines, window):
    chunks, stray = split_dump(lines)
    streamed = list(stream_dump(lines, window=window))
    expected = ([Stray(stray, "\n".join(lines[i] for i in stray))] if stray else []) + chunks
    assert streamed == expected


def test_the_seed_streamed_line_by_line_splits_as_the_whole_seed(seed_lines):
    assert list(stream_dump(iter(seed_lines[1:] * 40), window=7)) == split_dump(seed_lines[1:] * 40)[0]
