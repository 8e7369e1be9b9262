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
from typing import Any, Iterator

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


def decode_legacy(line: bytes) -> str:
    """A line that is not all UTF-8: what is UTF-8 decoded as such, the bytes UTF-8 rejects
    as Windows-1252 (what a codec error handler would do, without registering one).

    >>> decode_legacy(b"caf\\xc3\\xa9 \\xa35")
    'café £5'
    """
    parts, position = [], 0
    for run in _UTF8_RUN.finditer(line):  # linear in the line, however many bad bytes
        if run.start() > position:
            parts.append(line[position : run.start()].decode(_LEGACY_CODEC))
        parts.append(run.group().decode("utf-8"))
        position = run.end()
    if position < len(line):
        parts.append(line[position:].decode(_LEGACY_CODEC))
    return "".join(parts)


def invalid_utf8(data: bytes) -> int:
    """How many bytes of ``data`` UTF-8 rejects.

    >>> invalid_utf8(b"caf\\xc3\\xa9 \\xa35 \\xe2\\x82")
    3
    """
    return len(data) - sum(len(run) for run in _UTF8_RUN.findall(data))


# Runs of well-formed UTF-8 (the Unicode standard's table 3-7: no overlong forms, no
# surrogates, nothing above U+10FFFF).
_UTF8_RUN = re.compile(
    rb"(?:[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})+"
)


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
            parts.append(decode_legacy(line))
            legacy.append(number)
    return "\n".join(parts), legacy


# Bytes read ahead before the first line: enough to see a BOM and to tell UTF-16.
SNIFF_BYTES = 4096


# Bytes of one line at most (a JSONL record, a line of a dump): the rest of a longer line
# is skipped, and the line listed in ``LineDecoder.cut``.
MAX_LINE_BYTES = 64 << 20


class LineDecoder:
    r"""Bytes arriving in blocks -> the lines of the text, one at a time, decoded as
    :func:`decode_bytes` decodes a whole file: so a file of any size is read with the
    memory of one block and one line.

    The encoding is decided from the first bytes (BOM, BOM-less UTF-16); UTF-8 lines
    that are not UTF-8 take Windows-1252 (``legacy``: their line numbers); ``\r\n``
    and lone ``\r`` end lines; invisible controls are removed (``controls``: how many,
    per line). Lines are numbered from 1, as ``text.split("\n")`` would list them.

    >>> decoder = LineDecoder(iter([b"one\r\ntw", b"o \xa3\x00\nthree"]))
    >>> list(decoder.lines()), decoder.legacy, decoder.controls
    (['one', 'two £', 'three'], {2}, {2: 1})
    """

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._ahead: list[bytes] = []
        self.size_ahead = 0
        self.read_ahead(SNIFF_BYTES)
        start = b"".join(self._ahead)
        self.encoding, self.bom = "utf-8", False
        for bom, name in _BOMS:
            if start.startswith(bom):
                self.encoding, self.bom, self._skip = name, True, len(bom)
                break
        else:
            self._skip = 0
            self.encoding = sniff_utf16(start) or "utf-8"
        self.legacy: set[int] = set()
        self.controls: dict[int, int] = {}
        # Lines longer than MAX_LINE_BYTES: their first MAX_LINE_BYTES bytes are the line,
        # the rest is skipped (a line is held whole in memory; gzip can make one of GBs).
        self.cut: set[int] = set()

    def read_ahead(self, size: int) -> bytes:
        """The first ``size`` bytes (fewer at the end of the data), read ahead of the lines."""
        while self.size_ahead < size:
            block = next(self._blocks, None)
            if block is None:
                break
            self._ahead.append(block)
            self.size_ahead += len(block)
        return b"".join(self._ahead)[:size]

    def _all_blocks(self) -> Iterator[bytes]:
        first = True
        while self._ahead:
            block = self._ahead.pop(0)
            if first and self._skip:
                block = block[self._skip :]
            first = False
            yield block
        yield from self._blocks

    def fixes(self, first: int, last: int) -> dict[str, Any]:
        """The decoding facts of lines ``first`` to ``last``, for an article's ``fixes``."""
        out: dict[str, Any] = {}
        if self.encoding != "utf-8":
            out["encoding"] = self.encoding
        if self.bom:
            out["bom"] = True
        legacy = sorted(n for n in self.legacy if first <= n <= last) if self.legacy else []
        if legacy:
            out["legacy_lines"] = {LEGACY_ENCODING: legacy}
        removed = sum(c for n, c in self.controls.items() if first <= n <= last) if self.controls else 0
        if removed:
            out["controls_removed"] = removed
        cut = sorted(n for n in self.cut if first <= n <= last) if self.cut else []
        if cut:
            out["lines_cut"] = {str(MAX_LINE_BYTES): cut}
        return out

    def forget(self, before: int) -> None:
        """Drop the facts of the lines before ``before`` (their articles are made)."""
        if self.legacy:
            self.legacy = {n for n in self.legacy if n >= before}
        if self.controls:
            self.controls = {n: c for n, c in self.controls.items() if n >= before}
        if self.cut:
            self.cut = {n for n in self.cut if n >= before}

    def lines(self) -> Iterator[str]:
        return self._utf8_lines() if self.encoding == "utf-8" else self._other_lines()

    def _clean(self, lines: list[str], number: int) -> list[str]:
        """Lines numbered from ``number`` + 1 without their invisible controls (counted)."""
        for k, line in enumerate(lines):
            if not line.isprintable():
                cleaned, count = _CONTROL_RE.subn("", line)
                if count:
                    lines[k] = cleaned
                    self.controls[number + k + 1] = count
        return lines

    def _utf8_lines(self) -> Iterator[str]:
        """Lines of UTF-8 text; most blocks decode whole and split at once."""
        number = 0
        parts: list[bytes] = []
        held = 0  # bytes in parts: the start of a line whose end has not come
        for block in self._all_blocks():
            cut = block.rfind(b"\n")
            if cut < 0:
                if held + len(block) > MAX_LINE_BYTES:  # keep the line's start, skip the rest
                    block = block[: max(0, MAX_LINE_BYTES - held)]
                    self.cut.add(number + 1)
                parts.append(block)
                held += len(block)
                continue
            if number + 1 in self.cut:  # the cut line ends in this block: its start is held
                first = block.find(b"\n")
                lines = self._clean(self._decode_line(b"".join(parts), number), number)
                number += len(lines)
                yield from lines
                block, cut = block[first + 1 :], cut - first - 1
                parts, held = [], 0
                if cut < 0:
                    parts, held = [block], len(block)
                    continue
            data = b"".join(parts) + block[:cut] if parts else block[:cut]
            parts = [block[cut + 1 :]]
            held = len(parts[0])
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and "\r" not in text:
                lines = text.split("\n")
                # UTF-8 writes these characters as these very bytes: most blocks have none.
                if len(data.translate(None, _CONTROL_BYTES)) != len(data):
                    lines = self._clean(lines, number)
            else:
                lines = []
                for raw in data.split(b"\n"):
                    lines += self._clean(self._decode_line(raw[:-1] if raw.endswith(b"\r") else raw,
                                                          number + len(lines)), number + len(lines))
            if len(data) > MAX_LINE_BYTES:  # a block longer than a line may be (not with the defaults)
                self._cap(lines, number, MAX_LINE_BYTES)
            number += len(lines)
            yield from lines
        yield from self._clean(self._decode_line(b"".join(parts), number), number)  # after the last line feed

    def _cap(self, lines: list[str], number: int, limit: int, chars: bool = False) -> None:
        """Lines (numbered from ``number`` + 1) cut to ``limit`` bytes of UTF-8, or characters."""
        for k, line in enumerate(lines):
            if len(line) > limit or (not chars and len(line) * 4 > limit and len(line.encode()) > limit):
                lines[k] = line[:limit] if chars else line.encode()[:limit].decode("utf-8", "ignore")
                self.cut.add(number + k + 1)

    def _decode_line(self, raw: bytes, number: int) -> list[str]:
        """A line feed's line, split at lone carriage returns, decoded (lines ``number`` + 1 on)."""
        lines = []
        for piece in raw.split(b"\r") if b"\r" in raw else (raw,):
            try:
                lines.append(piece.decode("utf-8"))
            except UnicodeDecodeError:
                self.legacy.add(number + len(lines) + 1)
                lines.append(decode_legacy(piece))
        return lines

    def _other_lines(self) -> Iterator[str]:
        """Lines of UTF-16 or UTF-32 text (unpaired surrogates become U+FFFD: no legacy
        encoding explains them, and a str cannot hold them for the next stage)."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        rest, number = "", 0
        limit = MAX_LINE_BYTES // 2  # characters: two bytes or more each
        for block in self._all_blocks():
            text = rest + decoder.decode(block)
            # A carriage return at the end may be the first half of \r\n: wait for more.
            keep = len(text) - 1 if text.endswith("\r") else len(text)
            *lines, rest = _LINE_END_RE.sub("\n", text[:keep]).split("\n")
            rest += text[keep:]
            if len(rest) > limit:  # keep the line's start, skip the rest
                rest = rest[:limit]
                self.cut.add(number + len(lines) + 1)
            self._cap(lines, number, limit, chars=True)
            lines = self._clean(lines, number)
            number += len(lines)
            yield from lines
        lines = _LINE_END_RE.sub("\n", rest + decoder.decode(b"", final=True)).split("\n")
        self._cap(lines, number, limit, chars=True)
        yield from self._clean(lines, number)

    def control_share(self, sample: bytes) -> float:
        """The share of invisible control characters in the first bytes (a binary file
        has many): counted on the bytes for UTF-8, where each is one byte and a
        character is a byte that does not continue another."""
        if self.encoding != "utf-8":
            decoded = decode_bytes(sample)
            return decoded.controls_removed / max(1, len(decoded.text) + decoded.controls_removed)
        controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
        characters = len(sample.translate(None, _CONTINUATION_BYTES))
        return controls / max(1, characters)


_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def decode_bytes(data: bytes) -> Decoded:
    """Decode a file's bytes to text with ``\\n`` line ends (all of it at once: see
    :class:`LineDecoder` for a file read line by line).

    >>> decode_bytes(b"\\xef\\xbb\\xbfone\\r\\ntwo\\x00\\r\\n").text
    'one\\ntwo\\n'
    >>> decode_bytes("Ünïcode".encode("utf-16")).encoding
    'utf-16-le'
    """
    decoder = LineDecoder(iter([data]))
    text = "\n".join(decoder.lines())
    return Decoded(
        text=text, encoding=decoder.encoding, bom=decoder.bom,
        legacy_lines={LEGACY_ENCODING: sorted(decoder.legacy)} if decoder.legacy else {},
        controls_removed=sum(decoder.controls.values()),
    )
