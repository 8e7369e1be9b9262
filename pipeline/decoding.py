"""Bytes to text, without crashing and without inventing replacement characters.

Scraped dumps arrive as UTF-8 mostly, but with stray Windows-1252 / Latin-1 bytes
(a pound sign saved by an old editor), byte-order marks, and now and then UTF-16.
Decoding is decided per line, so one bad line does not condemn a file:

>>> decode_bytes(b"caf\\xc3\\xa9 costs \\xa35\\n").text
'café costs £5\\n'
>>> decode_bytes(b"caf\\xc3\\xa9 costs \\xa35\\n").legacy_lines
{'windows-1252': [1]}

Line ends are normalised to ``\\n``; NUL and other invisible C0 control characters
are removed (tab, line feed and form feed stay; ESC stays for ftfy's terminal-escape
fix, which removes the whole escape sequence).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

import ftfy.bad_codecs  # noqa: F401  (registers the "sloppy-windows-1252" codec)

# Which bytes a legacy single-byte encoding explains: Windows-1252, with the five
# bytes it leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) taken as Latin-1, so every
# byte decodes and none becomes U+FFFD.
LEGACY_ENCODING = "windows-1252"
_LEGACY_CODEC = "sloppy-windows-1252"

# Share of NUL bytes in alternate positions above which BOM-less text is UTF-16.
UTF16_NUL_SHARE = 0.3

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_LINE_END_RE = re.compile(r"\r\n?")
# C0 controls that carry no text: everything below 0x20 except tab, LF, FF, CR, ESC.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])


def _legacy_bytes(error: UnicodeDecodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes UTF-8 rejected as Windows-1252."""
    bad = error.object[error.start : error.end]
    return bad.decode(_LEGACY_CODEC), error.end


codecs.register_error("newsclean-legacy", _legacy_bytes)


@dataclass
class Decoded:
    """Decoded text and an account of how it was decoded."""

    text: str
    encoding: str = "utf-8"
    bom: bool = False
    legacy_lines: dict[str, list[int]] = field(default_factory=dict)
    controls_removed: int = 0

    def fixes(self) -> dict:
        """The decoding facts worth recording in an article's ``fixes``."""
        out: dict = {}
        if self.encoding != "utf-8":
            out["encoding"] = self.encoding
        if self.bom:
            out["bom"] = True
        if self.legacy_lines:
            out["legacy_lines"] = self.legacy_lines
        if self.controls_removed:
            out["controls_removed"] = self.controls_removed
        return out


def sniff_utf16(data: bytes) -> str | None:
    """Name the UTF-16 byte order of BOM-less text, or None.

    ASCII-range text in UTF-16 has a NUL in every other byte:

    >>> sniff_utf16("Hello".encode("utf-16-le"))
    'utf-16-le'
    >>> sniff_utf16(b"Hello") is None
    True
    """
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    half = len(sample) // 2
    even_nuls = sample[0::2].count(0) / half
    odd_nuls = sample[1::2].count(0) / half
    if odd_nuls > UTF16_NUL_SHARE and even_nuls < odd_nuls / 4:
        return "utf-16-le"
    if even_nuls > UTF16_NUL_SHARE and odd_nuls < even_nuls / 4:
        return "utf-16-be"
    return None


def _decode_utf8_lines(data: bytes) -> tuple[str, list[int]]:
    """Decode UTF-8 line by line; lines that are not UTF-8 take the legacy encoding."""
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    parts = []
    legacy = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            parts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append(line.decode("utf-8", errors="newsclean-legacy"))
            legacy.append(number)
    return "\n".join(parts), legacy


def decode_bytes(data: bytes) -> Decoded:
    """Decode a file's bytes to text with ``\\n`` line ends.

    >>> decode_bytes(b"\\xef\\xbb\\xbfone\\r\\ntwo\\x00\\r\\n").text
    'one\\ntwo\\n'
    >>> decode_bytes("Ünïcode".encode("utf-16")).encoding
    'utf-16-le'
    """
    result = Decoded(text="")
    for bom, name in _BOMS:
        if data.startswith(bom):
            result.encoding, result.bom = name, True
            data = data[len(bom) :]
            break
    else:
        sniffed = sniff_utf16(data)
        if sniffed:
            result.encoding = sniffed
    if result.encoding == "utf-8":
        text, legacy = _decode_utf8_lines(data)
        if legacy:
            result.legacy_lines = {LEGACY_ENCODING: legacy}
    else:
        # Unpaired surrogates in UTF-16 input become U+FFFD: no legacy encoding
        # explains them, and a str cannot hold them for the next stage.
        text = data.decode(result.encoding, errors="replace")
    # UTF-8 (and the one-byte legacy encodings) write these characters as these very
    # bytes: bytes without them need no search (most files).
    single_byte_controls = result.encoding != "utf-8" or len(data.translate(None, _CONTROL_BYTES)) != len(data)
    if result.encoding != "utf-8" or b"\r" in data:
        text = _LINE_END_RE.sub("\n", text)
    if single_byte_controls:
        text, result.controls_removed = _CONTROL_RE.subn("", text)
    result.text = text
    return result
