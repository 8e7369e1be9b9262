"""Read a night's raw files into articles, and everything else into rejections.

Inputs, any of them gzip-compressed (``.gz``):

- ``*.txt``: a news-site dump of many articles in the marker layout (see
  ``segment``), or a single article whose first non-empty line is its headline;
- ``*.jsonl``: one scraped article a line: ``text`` required; ``id``, ``title``,
  ``url``, ``published`` optional; any other field is kept under ``meta``.

Nothing is dropped silently: a file or line that cannot become an article is a
:class:`Rejection` naming the file, line or byte offset, and the reason.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import orjson
import xxhash

from pipeline.decoding import Decoded, decode_bytes
from pipeline.records import Article, Rejection, excerpt
from pipeline.segment import MARKER, split_dump

STAGE = "read"
SUFFIXES = (".txt", ".jsonl", ".txt.gz", ".jsonl.gz")
JSONL_FIELDS = ("id", "text", "title", "url", "published")
# Share of a file's characters that are control characters above which it is binary.
BINARY_CONTROL_SHARE = 0.05


@dataclass
class FileResult:
    """What one raw file gave: its articles and its rejections."""

    articles: list[Article]
    rejections: list[Rejection]


def list_night(night_dir: Path) -> tuple[list[str], list[Rejection]]:
    """The night's readable files (relative POSIX paths, sorted) and the rejected ones.

    Symbolic links are followed only when they point inside the night's folder;
    hidden files and files of other types are rejected, not ignored.
    """
    night_dir = Path(night_dir)
    root = night_dir.resolve()
    files: list[str] = []
    rejections: list[Rejection] = []
    for dirpath, dirnames, filenames in os.walk(night_dir, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames):
            path = base / name
            if path.is_symlink():
                rel = path.relative_to(night_dir).as_posix()
                rejections.append(Rejection(rel, "symbolic link to a folder, not followed", "list"))
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(night_dir).as_posix()
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(root) or not target.is_file():
                    rejections.append(
                        Rejection(rel, "symbolic link pointing outside the night's folder, not followed", "list")
                    )
                    continue
            if name.startswith("."):
                rejections.append(Rejection(rel, "hidden file", "list"))
            elif not name.lower().endswith(SUFFIXES):
                rejections.append(
                    Rejection(rel, f"unsupported file type (expected {', '.join(SUFFIXES)})", "list")
                )
            else:
                files.append(rel)
    files.sort()
    rejections.sort(key=lambda r: r.file)
    return files, rejections


def gunzip(data: bytes) -> tuple[bytes, str | None]:
    """Decompress gzip data, keeping what precedes any damage.

    Returns the bytes and, when the data is damaged or truncated, why.
    """
    out: list[bytes] = []
    rest = data
    while rest:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(stream.decompress(rest))
        except zlib.error as error:
            return b"".join(out), f"damaged gzip data: {error}"
        if not stream.eof:
            out.append(stream.flush())
            return b"".join(out), "truncated gzip data (file ends mid-stream)"
        rest = stream.unused_data
    return b"".join(out), None


def _decoding_fixes(decoded: Decoded, first_line: int, last_line: int) -> dict:
    """The file's decoding facts, restricted to the lines of one article."""
    fixes = decoded.fixes()
    legacy = fixes.pop("legacy_lines", None)
    if legacy:
        mine = {
            encoding: [n for n in lines if first_line <= n <= last_line]
            for encoding, lines in legacy.items()
        }
        mine = {encoding: lines for encoding, lines in mine.items() if lines}
        if mine:
            fixes["legacy_lines"] = mine
    return fixes


def read_file(night_dir: Path, rel: str, date: str, marker: str = MARKER) -> FileResult:
    """Read one raw file of a night into articles and rejections (``marker``: the
    widget marker line that makes a ``.txt`` file a multi-article dump)."""
    path = Path(night_dir) / rel
    rejections: list[Rejection] = []
    try:
        data = path.read_bytes()
    except OSError as error:
        return FileResult([], [Rejection(rel, f"unreadable: {error.strerror}", STAGE)])
    name = rel.lower()
    if name.endswith(".gz"):
        raw = data
        data, damage = gunzip(raw)
        if damage:
            rejections.append(
                Rejection(rel, damage, STAGE, offset=len(raw), excerpt=f"{len(data)} bytes recovered")
            )
        name = name[:-3]
    if not data.strip():
        rejections.append(Rejection(rel, "empty file", STAGE))
        return FileResult([], rejections)
    decoded = decode_bytes(data)
    if decoded.controls_removed > BINARY_CONTROL_SHARE * (len(decoded.text) + decoded.controls_removed):
        rejections.append(Rejection(rel, "binary file, not text", STAGE, excerpt=excerpt(data)))
        return FileResult([], rejections)
    if name.endswith(".jsonl"):
        articles = _read_jsonl(decoded, rel, date, rejections)
    else:
        articles = _read_txt(decoded, rel, date, rejections, marker)
    return FileResult(articles, rejections)


def _read_txt(
    decoded: Decoded, rel: str, date: str, rejections: list[Rejection], marker: str
) -> list[Article]:
    lines = decoded.text.split("\n")
    chunks, stray = split_dump(lines, marker)
    if stray:
        rejections.append(
            Rejection(
                rel,
                f"{len(stray)} line(s) before the first headline belong to no article",
                STAGE,
                line=stray[0] + 1,
                excerpt=excerpt("\n".join(lines[i] for i in stray)),
            )
        )
    if not chunks:
        rejections.append(Rejection(rel, "no article found", STAGE))
    articles = []
    for index, chunk in enumerate(chunks):
        last_line = chunk.first_line + len(chunk.lines)
        articles.append(
            Article(
                id=f"{date}/{rel}#{index}",
                title=chunk.title or None,
                text="\n".join(chunk.lines),
                captions=[],
                url=None,
                date=date,
                source={"file": rel, "index": index, "line": chunk.first_line},
                fixes={"decoding": _decoding_fixes(decoded, chunk.first_line, last_line)},
                text_line=chunk.first_line + 1,
            )
        )
    return articles


def _optional_string(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"field '{name}' must be a string, got {type(value).__name__}")


def _read_jsonl(decoded: Decoded, rel: str, date: str, rejections: list[Rejection]) -> list[Article]:
    articles = []
    index = -1
    for number, line in enumerate(decoded.text.split("\n"), start=1):
        if not line.strip():
            continue
        index += 1

        def reject(reason: str, record_id: str | None = None) -> None:
            rejections.append(
                Rejection(rel, reason, STAGE, line=number, id=record_id, excerpt=excerpt(line))
            )

        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            reject(f"malformed JSON: {error}")
            continue
        if not isinstance(record, dict):
            reject(f"not a JSON object but a {type(record).__name__}")
            continue
        record_id = record.get("id")
        if isinstance(record_id, bool) or not isinstance(record_id, (str, int, type(None))):
            reject(f"field 'id' must be a string or an integer, got {type(record_id).__name__}")
            continue
        record_id = None if record_id is None else str(record_id)
        text = record.get("text")
        if text is None:
            reject("missing field 'text'", record_id)
            continue
        if not isinstance(text, str):
            reject(f"field 'text' must be a string, got {type(text).__name__}", record_id)
            continue
        try:
            title, url, published = (_optional_string(record, f) for f in ("title", "url", "published"))
        except ValueError as error:
            reject(str(error), record_id)
            continue
        if not text.strip():
            reject("empty text", record_id)
            continue
        articles.append(
            Article(
                id=record_id if record_id is not None else f"{date}/{rel}#{index}",
                title=title.strip() if title else None,
                text=text.replace("\r\n", "\n").replace("\r", "\n"),
                captions=[],
                url=url,
                date=date,
                source={"file": rel, "index": index, "line": number},
                fixes={"decoding": _decoding_fixes(decoded, number, number)},
                published=published,
                meta={k: v for k, v in record.items() if k not in JSONL_FIELDS},
            )
        )
    return articles


@dataclass(frozen=True)
class Shard:
    """A group of a night's files processed by one task of each per-file stage."""

    index: int
    files: tuple[str, ...]
    sizes: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return self.name_of(self.index)

    @staticmethod
    def name_of(index: int) -> str:
        return f"shard-{index:05d}"

    @property
    def digest(self) -> str:
        """The shard's files and sizes, hashed: what names the shard's tasks beside its
        index, so that a task parameter stays short however many files a shard holds.

        >>> Shard(0, ("a.txt", "b.txt"), (10, 20)).digest
        '56841cecbc3f'
        """
        listing = "".join(f"{name}\t{size}\n" for name, size in zip(self.files, self.sizes))
        return xxhash.xxh3_64_hexdigest(listing.encode("utf-8"))[:12]


def plan_shards(files: list[str], sizes: list[int], max_bytes: int, max_files: int) -> list[Shard]:
    """Group files (in order) into shards of at most ``max_bytes`` and ``max_files``.

    A file larger than ``max_bytes`` is a shard of its own; the plan depends only on
    the file list and sizes, so every worker computes the same shards.

    >>> [s.files for s in plan_shards(["a", "b", "c", "d"], [5, 5, 20, 1], 10, 3)]
    [('a', 'b'), ('c',), ('d',)]
    """
    shards: list[Shard] = []
    current: list[tuple[str, int]] = []
    current_bytes = 0
    for name, size in zip(files, sizes):
        if current and (current_bytes + size > max_bytes or len(current) >= max_files):
            shards.append(Shard(len(shards), *map(tuple, zip(*current))))
            current, current_bytes = [], 0
        current.append((name, size))
        current_bytes += size
    if current:
        shards.append(Shard(len(shards), *map(tuple, zip(*current))))
    return shards


def read_shard(
    night_dir: Path,
    files: Sequence[str],
    date: str,
    marker_for: Callable[[str], str] = lambda rel: MARKER,
) -> FileResult:
    """Read a shard's files in order (``marker_for(file)``: the file's widget marker)."""
    articles: list[Article] = []
    rejections: list[Rejection] = []
    for rel in files:
        result = read_file(night_dir, rel, date, marker_for(rel))
        articles.extend(result.articles)
        rejections.extend(result.rejections)
    return FileResult(articles, rejections)


def plan_night(night_dir: Path, max_bytes: int, max_files: int) -> tuple[list[Shard], list[Rejection]]:
    """The night's shards and the files rejected when listing it."""
    files, rejections = list_night(night_dir)
    sizes = [(Path(night_dir) / f).stat().st_size for f in files]
    return plan_shards(files, sizes, max_bytes, max_files), rejections
