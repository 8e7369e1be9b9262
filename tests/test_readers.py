"""Readers: every raw file becomes articles or rejections naming file, line and reason."""

from __future__ import annotations

import gzip
import os

import pytest

from pipeline.read.files import gunzip, list_night
from pipeline.read.readers import read_file
from tests.conftest import gzip_stream, traced_peak

NIGHT = "2026-11-27"


def read(tmp_path, name: str, data: bytes):
    (tmp_path / name).write_bytes(data)
    result = read_file(tmp_path, name, NIGHT)
    return result.articles, [(r.line, r.reason) for r in result.rejections]


def test_jsonl_fields_and_meta(tmp_path):
    line = b'{"id": 7, "title": " T ", "text": "Body\\r\\nline", "url": "u", "published": "p", "lang": "en"}\n'
    articles, rejections = read(tmp_path, "a.jsonl", line)
    assert rejections == []
    (a,) = articles
    assert (a.id, a.title, a.text, a.url, a.published, a.meta) == ("7", "T", "Body\nline", "u", "p", {"lang": "en"})
    assert a.source == {"file": "a.jsonl", "index": 0, "line": 1}


def test_jsonl_bad_lines_are_rejected_with_line_and_reason(tmp_path):
    data = b"\n".join([
        b'{"text": "fine"}',
        b"",
        b'{"text": "cut off',
        b"[1, 2]",
        b'{"id": "x", "title": "no text"}',
        b'{"id": "y", "text": 42}',
        b'{"id": ["z"], "text": "t"}',
        b'{"text": "t", "url": 5}',
        b'{"text": "   "}',
        b'{"text": "last fine"}',
    ])
    articles, rejections = read(tmp_path, "b.jsonl", data)
    assert [(a.id, a.source["index"], a.source["line"]) for a in articles] == [
        (f"{NIGHT}/b.jsonl#0", 0, 1), (f"{NIGHT}/b.jsonl#8", 8, 10)
    ]
    assert [(line, reason.split(":")[0]) for line, reason in rejections] == [
        (3, "malformed JSON"),
        (4, "not a JSON object but a list"),
        (5, "missing field 'text'"),
        (6, "field 'text' must be a string, got int"),
        (7, "field 'id' must be a string or an integer, got list"),
        (8, "field 'url' must be a string, got int"),
        (9, "empty text"),
    ]


def test_gzip_and_truncated_gzip_keep_what_they_can(tmp_path):
    lines = b"".join(b'{"text": "article %d of %d"}\n' % (i, i * 7919 % 10007) for i in range(400))
    data = gzip.compress(lines, mtime=0)
    articles, rejections = read(tmp_path, "c.jsonl.gz", data)
    assert len(articles) == 400 and rejections == []
    articles, rejections = read(tmp_path, "d.jsonl.gz", data[: len(data) // 2])
    assert 0 < len(articles) < 400
    assert rejections[-1] == (None, "truncated gzip data (file ends mid-stream)")  # after what was read


def test_gunzip_of_garbage_says_why():
    data, error = gunzip(b"not gzip at all")
    assert data == b"" and error.startswith("damaged gzip data")


def test_empty_and_binary_files_are_rejected(tmp_path):
    assert read(tmp_path, "e.txt", b"  \n\n") == ([], [(None, "empty file")])
    assert read(tmp_path, "f.txt", bytes(range(256)) * 4) == ([], [(None, "binary file, not text")])


def test_single_article_text_file(tmp_path):
    articles, rejections = read(tmp_path, "g.txt", b"\n\nHeadline here\n\nBody one.\n\nBody two.\n")
    assert rejections == []
    assert [(a.title, a.text, a.source["line"], a.text_line) for a in articles] == [
        ("Headline here", "\nBody one.\n\nBody two.", 3, 4)
    ]


def test_listing_rejects_what_it_cannot_read_and_skips_nothing_silently(tmp_path):
    night = tmp_path / "night"
    (night / "sub").mkdir(parents=True)
    for name in ("b.txt", "a.jsonl", "sub/c.txt.gz", "notes.pdf", ".hidden.txt", "d.JSONL"):
        (night / name).write_bytes(b"x")
    (tmp_path / "outside.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.txt", night / "link-out.txt")
    os.symlink(night / "b.txt", night / "link-in.txt")
    files, rejections = list_night(night)
    assert files == ["a.jsonl", "b.txt", "d.JSONL", "link-in.txt", "sub/c.txt.gz"]
    assert [(r.file, r.reason.split(" (")[0]) for r in rejections] == [
        (".hidden.txt", "hidden file"),
        ("link-out.txt", "symbolic link pointing outside the night's folder, not followed"),
        ("notes.pdf", "unsupported file type"),
    ]


def test_article_records_keep_every_field_in_order():
    import dataclasses

    from pipeline.records import Article

    article = Article(id="i", title="t", text="x", captions=["c"], url=None, date="d",
                      source={"file": "f", "index": 0}, fixes={"encoding": {}}, meta={"k": 1}, text_line=3)
    assert article.to_dict() == dataclasses.asdict(article)
    assert list(article.to_dict()) == [f.name for f in dataclasses.fields(Article)]
    assert Article.from_dict(article.to_dict()) == article


def test_output_line_refuses_a_line_that_is_not_an_article_record():
    import pytest

    from pipeline.records import Article

    with pytest.raises(ValueError, match="not an article record"):
        Article.output_line(b'{"id":"a","text":"x"}\n')
    with pytest.raises(ValueError, match="not an article record"):
        Article.output_line(b'{"id":"a","meta":{"text_line":1}}\n')  # only a nested one


def test_a_line_longer_than_the_limit_is_cut_and_its_record_rejected_the_rest_read(tmp_path, monkeypatch):
    from pipeline.read import decode

    monkeypatch.setattr(decode, "MAX_LINE_BYTES", 1 << 20)
    good = b'{"id": "a", "text": "The ferry ran again on Monday after the storm."}\n'
    # A record of 50 MB in 50 KB of gzip, between two good ones.
    pieces = [good, b'{"id": "huge", "text": "'] + [b"a" * (1 << 20)] * 50 + [b'"}\n', good.replace(b'"a"', b'"b"')]
    (tmp_path / "feed.jsonl.gz").write_bytes(gzip_stream(pieces))
    result, peak = traced_peak(lambda: read_file(tmp_path, "feed.jsonl.gz", "2026-11-27"))
    assert [a.id for a in result.articles] == ["a", "b"]
    assert [(r.line, r.reason) for r in result.rejections] == [(2, "line longer than 1,048,576 bytes, not read")]
    assert [a.source["line"] for a in result.articles] == [1, 3]
    assert peak < 40_000_000  # gzip blocks and the line's first megabyte, not 50 MB (over 100 before)


def test_a_dump_line_longer_than_the_limit_is_kept_cut_and_said(tmp_path, monkeypatch):
    from pipeline.read import decode

    monkeypatch.setattr(decode, "MAX_LINE_BYTES", 1 << 20)
    pieces = [b"A headline\n\n", b"x" * (3 << 20), b"\n\nThe last paragraph of the article.\n"]
    (tmp_path / "one.txt.gz").write_bytes(gzip_stream(pieces))
    result = read_file(tmp_path, "one.txt.gz", "2026-11-27")
    (article,) = result.articles
    assert article.text.strip().split("\n\n") == ["x" * (1 << 20), "The last paragraph of the article."]
    assert article.fixes["decoding"] == {"lines_cut": {"1048576": [3]}}


def test_utf16_lines_longer_than_the_limit_are_cut_too(monkeypatch):
    from pipeline.read import decode

    monkeypatch.setattr(decode, "MAX_LINE_BYTES", 1 << 12)
    data = "first\n".encode("utf-16") + ("y" * 50_000 + "\nlast\n").encode("utf-16-le")
    decoder = decode.LineDecoder(iter([data[i : i + 1000] for i in range(0, len(data), 1000)]))
    lines = list(decoder.lines())
    assert lines[0] == "first" and lines[1] == "y" * (1 << 11) and lines[2:] == ["last", ""]
    assert decoder.cut == {2}


@pytest.mark.parametrize("size", [1, 7, 100, 1023, 1024, 1025, 3000, 100_000])
def test_long_lines_are_cut_the_same_whatever_the_blocks(size, monkeypatch):
    from pipeline.read import decode

    monkeypatch.setattr(decode, "MAX_LINE_BYTES", 1 << 10)
    data = b"A headline\n\n" + b"x" * 5000 + b"\n\nThe last paragraph.\n" + "é".encode() * 3000 + b"\r\nend"
    decoder = decode.LineDecoder(iter([data[i : i + size] for i in range(0, len(data), size)]))
    assert list(decoder.lines()) == ["A headline", "", "x" * 1024, "", "The last paragraph.", "é" * 512, "end"]
    assert decoder.cut == {3, 6}
