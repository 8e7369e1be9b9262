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

# Every label of the WHATWG Encoding standard ("Encodings" table), and the codec that
# reads it as browsers do. Only these labels mean anything on the web: any other (a
# Python codec such as utf-7, punycode, rot13, base64 or cp037) is an unknown label, as
# to a browser, and the next source decides. The "replacement" labels (ISO-2022-KR,
# ISO-2022-CN, HZ) are unknown too: browsers show such a page as one U+FFFD.
_WHATWG = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "cp866": "866 cp866 csibm866 ibm866",
    "iso8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "iso8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
                 "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "iso8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 "
                 "iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "iso8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
                 "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical",
    "iso8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859-16": "iso-8859-16",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "mac-roman": "csmacintosh mac macintosh x-mac-roman",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 "
                    "iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252 "
                    "x-user-defined",  # x-user-defined: windows-1252 in a page (the HTML standard)
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 "
              "windows-1254 x-cp1254",
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gb18030": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
             "windows-949",
    "utf-16-be": "unicodefffe utf-16be",
    "utf-16-le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
}
# The codecs' names as Python spells them (``fixes.decoding.charset``: cp1251, iso8859-15).
_NAMED = {codec: codec if codec in ("windows-1252", "utf-16-le", "utf-16-be") else codecs.lookup(codec).name
          for codec in _WHATWG}
_WEB_LABELS = {label: _NAMED[codec] for codec, labels in _WHATWG.items() for label in labels.split()}
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
    >>> [web_codec(label) for label in ("utf-7", "punycode", "rot13", "base64", "cp037", "iso-2022-kr")]
    [None, None, None, None, None, None]
    """
    if not label:
        return None
    return _WEB_LABELS.get(label.strip().strip("\"'").lower())


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
    codec = _detected_codec(best.encoding) if best is not None else None
    if codec is not None:
        return _decode(data, codec, "detected")
    return _decode(data, "windows-1252", "default")


def _detected_codec(name: str) -> str | None:
    """The detector's answer (a Python codec name) when it is an encoding of the web.

    >>> _detected_codec("utf_8"), _detected_codec("mac_cyrillic"), _detected_codec("cp037")
    ('utf-8', 'mac-cyrillic', None)
    """
    try:
        found = codecs.lookup(name).name
    except LookupError:
        return None
    if found in ("cp1252", "latin-1", "ascii"):
        return "windows-1252"
    return found if found in _WEB_CODECS else None


_WEB_CODECS = frozenset(_NAMED.values())


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
