"""HTML bytes to text, with the charset a browser would use, and an account of the choice.

The order is the HTML standard's: a byte-order mark, then the HTTP header's charset (a
WARC response's ``Content-Type``), then a ``<meta charset>`` in the first 1,024 bytes,
then detection. Labels mean what they mean to browsers (the WHATWG Encoding standard):
``iso-8859-1`` and ``ascii`` are Windows-1252, ``gb2312`` is GB18030, ``shift_jis`` is
Windows-31J. Bytes the charset cannot explain are not turned into U+FFFD where another
reading explains them: a page declared UTF-8 with stray Windows-1252 bytes is decoded
line by line as plain-text dumps are (``decode.decode_legacy``).

>>> page = decode_page(b'<meta charset="iso-8859-1"><p>caf\\xe9</p>')
>>> page.text, page.charset, page.source
('<meta charset="iso-8859-1"><p>café</p>', 'windows-1252', 'meta')

A wrong declaration is decoded as declared, as a browser would; the repair stage then
undoes the mojibake (``Ã©`` back to ``é``) as it does for every article.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from pipeline.read.decode import decode_legacy, invalid_utf8

# Bytes of the page searched for <meta charset> (the standard's prescan).
PRESCAN_BYTES = 1024
# Bytes searched for a late <meta charset> (after long scripts in the head), consulted
# only when the bytes are not UTF-8.
LATE_META_BYTES = 65536
# Bytes given to the detector.
DETECT_BYTES = 65536

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:()+-]{1,40})""", re.IGNORECASE)
_HEADER = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:()+-]{1,40})""", re.IGNORECASE)
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")

# Labels whose meaning on the web differs from Python's codec of the same name, or which
# Python does not know (WHATWG Encoding standard, "Encodings" table).
_WEB_LABELS = {
    **dict.fromkeys(("ascii", "us-ascii", "ansi_x3.4-1968", "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
                     "l1", "cp819", "ibm819", "iso-ir-100", "csisolatin1", "iso_8859-1:1987", "iso88591",
                     "cp1252", "windows-1252", "x-cp1252"), "windows-1252"),
    **dict.fromkeys(("iso-8859-9", "iso8859-9", "iso_8859-9", "latin5", "l5", "iso-ir-148", "csisolatin5",
                     "iso88599", "windows-1254", "cp1254", "x-cp1254"), "cp1254"),
    **dict.fromkeys(("iso-8859-11", "iso8859-11", "tis-620", "dos-874", "windows-874", "iso885911"), "cp874"),
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "chinese", "csgb2312", "iso-ir-58", "gb_2312-80", "gb_2312",
                     "cp936", "ms936", "windows-936", "gb18030"), "gb18030"),
    **dict.fromkeys(("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "ms_kanji", "x-sjis", "windows-31j", "csshiftjis",
                     "ms932"), "cp932"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "korean",
                     "windows-949", "cseuckr", "iso-ir-149", "csksc56011987"), "cp949"),
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8",
                     "x-unicode20utf8"), "utf-8"),
    **dict.fromkeys(("utf-16", "utf-16le", "unicode", "ucs-2", "csunicode", "iso-10646-ucs-2",
                     "unicodefeff"), "utf-16-le"),
    **dict.fromkeys(("utf-16be", "unicodefffe"), "utf-16-be"),
}
# Windows-1252 as browsers read it: its five undefined bytes as Latin-1 (ftfy's codec).
_WINDOWS_1252 = "sloppy-windows-1252"


@dataclass(frozen=True)
class DecodedPage:
    """A page's text, the charset it was read with and where that came from (``bom``,
    ``http``, ``meta``, ``utf-8`` for BOM-less bytes that are UTF-8, ``late-meta``,
    ``detected``, ``default``), and the byte positions no charset explained."""

    text: str
    charset: str
    source: str
    declared: str | None = None  # a declaration that was not used (unknown label, or contradicted)
    legacy_bytes: int = 0  # bytes of a UTF-8 page read as Windows-1252

    def fixes(self) -> dict:
        """The decoding facts recorded in an article's ``fixes.decoding``."""
        out: dict = {"charset": self.charset, "charset_from": self.source}
        if self.declared:
            out["charset_declared"] = self.declared
        if self.legacy_bytes:
            out["legacy_bytes"] = self.legacy_bytes
        return out


def web_codec(label: str | None) -> str | None:
    """The codec a browser uses for a charset label (None: no such charset).

    >>> web_codec("ISO-8859-1"), web_codec("Shift_JIS"), web_codec("koi8-r"), web_codec("x-nonsense")
    ('windows-1252', 'cp932', 'koi8-r', None)
    """
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WEB_LABELS:
        return _WEB_LABELS[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The charset label of an HTTP ``Content-Type`` header.

    >>> header_charset("text/html; charset=ISO-8859-1")
    'ISO-8859-1'
    """
    found = _HEADER.search(content_type or "")
    return found.group(1) if found else None


def meta_charset(data: bytes, limit: int = PRESCAN_BYTES) -> str | None:
    """The charset label of the first ``<meta charset>`` or ``<meta http-equiv
    content="...; charset=...">`` within ``limit`` bytes."""
    found = _META.search(data, 0, limit)
    return found.group(1).decode("ascii") if found else None


def decode_page(data: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode an HTML page's bytes (``content_type``: the HTTP header, if known)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom):], codec, "bom")
    unknown = None
    for source, label in (("http", header_charset(content_type)), ("meta", meta_charset(data))):
        if label is None:
            continue
        codec = web_codec(label)
        if codec is None:
            unknown = unknown or label  # a label no browser knows: the next source decides
            continue
        if source == "meta" and codec.startswith("utf-16"):
            codec = "utf-8"  # a page that can state its charset in ASCII is not UTF-16 (the standard's rule)
        return _decode(data, codec, source)
    page = _undeclared(data)
    return DecodedPage(page.text, page.charset, page.source, unknown, page.legacy_bytes)


def _undeclared(data: bytes) -> DecodedPage:
    """A page that states no charset: UTF-8 if its bytes are (mostly) UTF-8, else a late
    ``<meta charset>``, else what the detector finds, else Windows-1252."""
    try:
        return DecodedPage(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    late = web_codec(meta_charset(data, LATE_META_BYTES))
    if late is not None:
        return _decode(data, late, "late-meta")
    sample = data[:DETECT_BYTES]
    if len(_UTF8_SEQUENCE.findall(sample)) >= invalid_utf8(sample):
        return _decode(data, "utf-8", "utf-8")  # UTF-8 with stray legacy bytes
    from charset_normalizer import from_bytes  # imported when needed: most pages never get here

    best = from_bytes(sample).best()
    codec = web_codec(best.encoding) if best is not None else None
    if codec is not None:
        return _decode(data, codec, "detected")
    return _decode(data, "windows-1252", "default")


def _decode(data: bytes, codec: str, source: str) -> DecodedPage:
    if codec == "utf-8":
        try:
            return DecodedPage(data.decode("utf-8"), "utf-8", source)
        except UnicodeDecodeError:
            text = decode_legacy(data)
            return DecodedPage(text, "utf-8", source, legacy_bytes=invalid_utf8(data))
    if codec == "windows-1252":
        return DecodedPage(data.decode(_WINDOWS_1252), "windows-1252", source)
    try:
        return DecodedPage(data.decode(codec), codec, source)
    except UnicodeDecodeError:
        pass
    # Bytes the declared charset cannot read: UTF-8 if they are, else the declared
    # charset with U+FFFD where it fails (what a browser shows).
    try:
        return DecodedPage(data.decode("utf-8"), "utf-8", "utf-8", declared=codec)
    except UnicodeDecodeError:
        return DecodedPage(data.decode(codec, errors="replace"), codec, source)
