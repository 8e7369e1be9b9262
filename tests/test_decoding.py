"""Bytes to text: UTF-8, legacy bytes per line, BOMs, UTF-16, control characters."""

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.read.decode import (
    _CONTROL_RE,
    _LINE_END_RE,
    _decode_utf8_lines,
    decode_bytes,
    decode_legacy,
    invalid_utf8,
)


def test_utf8_is_decoded_as_is():
    decoded = decode_bytes("Zoë’s café — “fine”\nΚαλημέρα, Привет, مرحبا, שלום\n".encode("utf-8"))
    assert decoded.text == "Zoë’s café — “fine”\nΚαλημέρα, Привет, مرحبا, שלום\n"
    assert decoded.fixes() == {}


def test_latin1_byte_on_one_line_is_decoded_without_replacement_character():
    decoded = decode_bytes(b"Good line \xc3\xa9\nPrice: \xa312\nGood again\n")
    assert decoded.text == "Good line é\nPrice: £12\nGood again\n"
    assert decoded.legacy_lines == {"windows-1252": [2]}
    assert "\ufffd" not in decoded.text


def test_windows_1252_punctuation_bytes_become_their_characters():
    assert decode_bytes(b"\x93Quoted\x94 \x96 dash \x80").text == "“Quoted” – dash €"


def test_bytes_windows_1252_leaves_undefined_become_latin1_controls_for_ftfy():
    assert decode_bytes(b"x\x81y").text == "x\x81y"


def test_utf8_bom_is_removed_and_recorded():
    decoded = decode_bytes(codecs.BOM_UTF8 + b"Headline\r\nBody\r\n")
    assert decoded.text == "Headline\nBody\n"
    assert decoded.fixes() == {"bom": True}


def test_utf16_with_and_without_bom():
    text = "Überschrift\r\nText mit Umlauten: äöü\r\n"
    for data, encoding in [
        (text.encode("utf-16"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16-be"),
        (text.encode("utf-16-le"), "utf-16-le"),
        (text.encode("utf-16-be"), "utf-16-be"),
    ]:
        decoded = decode_bytes(data)
        assert (decoded.text, decoded.encoding) == ("Überschrift\nText mit Umlauten: äöü\n", encoding)


def test_nul_and_control_characters_are_removed_and_counted():
    decoded = decode_bytes(b"a\x00b\x07c\td\x0ce\x1b[0m\n")
    assert decoded.text == "abc\td\x0ce\x1b[0m\n"
    assert decoded.controls_removed == 2


def test_old_mac_line_ends_become_line_feeds():
    assert decode_bytes(b"one\rtwo\r\nthree").text == "one\ntwo\nthree"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_line_ends_and_controls_are_cleaned_as_by_the_full_search(data):
    decoded = decode_bytes(data)
    if decoded.encoding != "utf-8":
        return
    raw = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    expected, removed = _CONTROL_RE.subn("", _LINE_END_RE.sub("\n", _decode_utf8_lines(raw)[0]))
    assert (decoded.text, decoded.controls_removed) == (expected, removed)



def _legacy_by_decoder_errors(line: bytes) -> tuple[str, int]:
    """The rule decode_legacy implements, spelled with the UTF-8 decoder's own errors:
    the text, and how many bytes the decoder rejected."""
    parts, position, rejected = [], 0, 0
    while True:
        try:
            parts.append(line[position:].decode("utf-8"))
            return "".join(parts), rejected
        except UnicodeDecodeError as error:
            parts.append(line[position : position + error.start].decode("utf-8"))
            parts.append(line[position + error.start : position + error.end].decode("sloppy-windows-1252"))
            rejected += error.end - error.start
            position += error.end


UTF8_PIECES = st.lists(st.one_of(
    st.binary(max_size=4), st.text(max_size=4).map(lambda t: t.encode("utf-8")),
    # a surrogate, beyond U+10FFFF, overlong, cut short
    st.sampled_from([b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82"]),
))


@settings(max_examples=500, deadline=None)
@given(UTF8_PIECES)
def test_legacy_decoding_is_the_utf8_decoders_reading_with_windows_1252_for_what_it_rejects(pieces):
    line = b"".join(pieces)
    assert (decode_legacy(line), invalid_utf8(line)) == _legacy_by_decoder_errors(line)
