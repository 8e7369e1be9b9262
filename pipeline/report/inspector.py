"""Inspect a night's outputs from the terminal.

    python -m pipeline inspect out/2026-11-27                 the night at a glance, with trend
    python -m pipeline inspect out/2026-11-27 show ID         one article, and what was done to it
    python -m pipeline inspect out/2026-11-27 why ID          why an article is not in articles.jsonl
    python -m pipeline inspect out/2026-11-27 grep PATTERN    search the night's clean text

``--json`` prints the same as JSON for scripts; colour only on a terminal (``--color``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from typing import Any, Sequence

import orjson
import regex

from pipeline.report.nightdata import Night, NightNotFound, WordDiff, shorten_equal, summary
from pipeline.text import clip, printable

EQUAL_CONTEXT = 12  # words of unchanged text shown around each change

def escaped(data: Any) -> Any:
    """Every string in ``data`` (dicts, lists, tuples of them) made :func:`printable`;
    newlines stay where they separate paragraphs and lines of text."""
    if isinstance(data, str):
        return "\n".join(printable(line) for line in data.split("\n"))
    if isinstance(data, dict):
        return {key: escaped(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(escaped(value) for value in data)
    return data


class Style:
    """ANSI colours, or nothing when the output is not a terminal."""

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(self.CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str] = (), indent: int = 2, align: str = "") -> str:
    """Rows as aligned columns; ``align`` is one letter a column, "l" or "r" (default: the
    first column left-aligned, the others right-aligned, as for numbers)."""
    cells = [[str(c) for c in row] for row in ([headers] if headers else []) + list(rows)]
    if not cells:
        return ""
    columns = max(map(len, cells))
    align = align or "l" + "r" * (columns - 1)
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(columns)]
    lines = []
    for row in cells:
        parts = [c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i]) for i, c in enumerate(row)]
        lines.append(" " * indent + "  ".join(parts).rstrip())
    return "\n".join(lines)


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


# --- the night at a glance -------------------------------------------------------------------


def overview(night: Night) -> dict[str, Any]:
    nights = night.previous() + [night]
    return {
        "night": summary(night),
        "trend": [summary(n) for n in nights],
        "top_removed": {rule: [{"text": t, "count": c} for t, c in lines] for rule, lines in night.top_removed().items()},
    }


def print_overview(data: dict[str, Any], style: Style) -> None:
    night, trend = data["night"], data["trend"][-7:]
    print(style(f"Night {night['date']}", "bold"))
    rules = sorted({rule for s in trend for rule in s["lines_removed"]})
    rows = [
        ["files"] + [s["files"] for s in trend],
        ["articles in"] + [s["articles_in"] for s in trend],
        ["articles out"] + [s["articles_out"] for s in trend],
        ["repaired"] + [s["repaired"] for s in trend],
        ["rejected"] + [s["rejected"] for s in trend],
        ["duplicates, exact"] + [s["duplicates"].get("exact", 0) for s in trend],
        ["duplicates, minhash"] + [s["duplicates"].get("minhash", 0) for s in trend],
        ["duplicate rate"] + [_percent(s["duplicate_rate"]) for s in trend],
    ] + [[f"removed: {rule}"] + [s["lines_removed"].get(rule, 0) for s in trend] for rule in rules]
    print(table(rows, [""] + [s["date"] for s in trend]))
    if night["rejected_by_reason"]:
        print(style("\nRejected, by reason", "bold"))
        print(table(sorted(night["rejected_by_reason"].items(), key=lambda item: (-item[1], item[0]))))
    if data["top_removed"]:
        print(style("\nMost removed lines, by rule", "bold"))
        for rule, lines in data["top_removed"].items():
            print(f"  {style(rule, 'cyan')} ({night['lines_removed'].get(rule, 0)})")
            for line in lines:
                print(f"    {line['count']:>5}x  {clip(line['text'], 90)}")


# --- one article --------------------------------------------------------------------------


def describe(night: Night, article_id: str) -> dict[str, Any]:
    """An article (by id), or a rejected input (by id, or by FILE:LINE when it has no id)."""
    article = night.article(article_id)
    rejections = night.rejections(article_id)
    if article is None and not rejections:
        file, _, line = article_id.rpartition(":")
        rejections = [r for r in night.rejected if file and r["file"] == file and str(r.get("line")) == line]
    if article is None and not rejections:
        raise KeyError(f"no article or rejected input {article_id!r} in {night.folder} (ids, or FILE:LINE)")
    duplicate = night.duplicate(article_id)
    if duplicate is not None:
        status = {"status": "superseded" if duplicate.get("superseded") else "duplicate", **duplicate}
    elif rejections:
        status = {"status": "rejected", "reasons": [r["reason"] for r in rejections]}
    else:
        status = {"status": "kept"}
    return {
        "id": article_id,
        "status": status,
        "article": article,
        "removed": night.removed_lines(article_id),
        "rejections": rejections,
    }


def print_article(data: dict[str, Any], style: Style) -> None:
    article, status = data["article"], data["status"]
    print(style(data["id"], "bold"))
    label = status["status"]
    if label in ("duplicate", "superseded"):
        label += f" of {status['dup_of']} ({status['dup_of_night']}, {status['method']}, J={status['similarity']})"
    elif label == "rejected":
        label += ": " + "; ".join(status["reasons"])
    print(f"  status:   {style(label, 'green' if status['status'] == 'kept' else 'yellow')}")
    if article:
        source = article["source"]
        where = [f"line {source['line']}"] if source.get("line") is not None else []
        where += [f"offset {source['offset']}"] if source.get("offset") is not None else []
        print(f"  source:   {', '.join([source['file'], *where])}, article #{source['index']} of the file")
        print(f"  night:    {article['date']}")
        if article.get("url"):
            print(f"  url:      {article['url']}")
        fixes = article["fixes"]
        encoding = fixes.get("encoding", {})
        print(f"  encoding: {'repaired: ' + ', '.join(encoding['fixes']) if encoding.get('repaired') else 'unchanged'}")
        if fixes.get("decoding"):
            print(f"  decoding: {orjson.dumps(fixes['decoding']).decode()}")
        for caption in article.get("captions", []):
            print(f"  caption:  {caption}")
    if data["removed"]:
        print(style(f"\n  Removed lines ({len(data['removed'])})", "bold"))
        rows = [[f"line {r['line']}" if r["line"] is not None else "", r["rule"], clip(r["text"], 80)]
                for r in data["removed"]]
        print(table(rows, indent=4, align="lll"))
    if article:
        print(style("\n  Title", "bold"))
        print(textwrap.indent(article.get("title") or "(none)", "    "))
        print(style("\n  Text", "bold"))
        width = min(100, shutil.get_terminal_size((100, 20)).columns) - 4
        for paragraph in article["text"].split("\n\n"):
            print(textwrap.fill(paragraph, width, initial_indent="    ", subsequent_indent="    "))
            print()


# --- why is it not there ------------------------------------------------------------------


def explain(night: Night, article_id: str) -> dict[str, Any]:
    data = describe(night, article_id)
    data["removed"] = explain_removals(data["removed"])
    data["outputs"] = str(night.folder.parent)  # where the kept article's night would be
    status = data["status"]
    if status["status"] in ("duplicate", "superseded"):
        kept_night = night if status["dup_of_night"] == night.date else night.sibling(status["dup_of_night"])
        kept = kept_night.article(status["dup_of"]) if kept_night else None
        mine = data["article"] or {}
        data["kept"] = kept
        if kept is not None:
            diff = WordDiff.of(mine.get("text", ""), kept["text"])
            data["diff"] = [list(run) for run in diff.runs]
    return data


# What the built-in removals mean (the configured rules explain themselves: their comment).
BUILT_IN_REASONS = {
    "outside_main_text": "not in the stretch of lines the classifier chose as the article's text",
    "site_repeated_line": "a line the site prints on many of its pages",
    "widget_marker": "the dump layout's widget marker",
    "widget_counter": "the dump layout's widget counter",
    "caption": "a caption, moved into the article's captions",
    "repeated_caption": "a caption printed again",
    "repeated_headline": "the headline printed again",
    "html_boilerplate": "a block of the page that extraction left out",
}


def rule_reasons() -> dict[str, str]:
    """Each removal rule's name -> what it removes: the built-in ones, then the rules
    file in effect (its comments)."""
    reasons = dict(BUILT_IN_REASONS)
    try:
        from pipeline.clean.rules import load_rules
        from pipeline.settings import rules_path

        config = load_rules(rules_path())
    except (OSError, ValueError):  # the night is readable without its rules file
        return reasons
    for rule in (*config.rules, *(r for site in config.sites for r in site.rules)):
        reasons.setdefault(rule.name, rule.comment)
    return reasons


def explain_removals(removed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The removed lines of an article with why: the classifier's own words (``detail``)
    or what the rule removes."""
    reasons = rule_reasons()
    return [{**r, "why": r.get("detail") or reasons.get(r["rule"], "")} for r in removed]


def print_explanation(data: dict[str, Any], style: Style) -> None:
    status = data["status"]
    kind = status["status"]
    if kind == "kept":
        print(f"{data['id']} was kept: it is in articles.jsonl.")
        if data["removed"]:
            print(style(f"\n  Lines removed from it ({len(data['removed'])}), and why", "bold"))
            for record in data["removed"]:
                where = f"line {record['line']}" if record["line"] is not None else "a line"
                print(f"    {where}: {record['rule']}: {record['why']}")
                print(f"      {clip(record['text'], 100)}")
        return
    if kind == "rejected":
        print(style(f"{data['id']} was rejected", "bold"))
        for record in data["rejections"]:
            where = ", ".join(f"{k} {record[k]}" for k in ("file", "line", "offset") if record.get(k) is not None)
            print(f"  {where}: {record['reason']}")
            if record.get("excerpt"):
                print(f"  input: {clip(record['excerpt'], 200)}")
        return
    if kind == "superseded":
        head = f"{data['id']} (night {status['night']}) was superseded by {status['dup_of']} (night {status['dup_of_night']})"
    else:
        head = f"{data['id']} duplicates {status['dup_of']}, kept on night {status['dup_of_night']}"
    print(style(head, "bold"))
    print(f"  method: {status['method']}, Jaccard similarity of word 5-shingles: {status['similarity']}")
    if data.get("kept") is None:
        print(f"  (the kept article's night {status['dup_of_night']} is not in {data['outputs']})")
        return
    print(f"  this:  {clip(data['article']['title'] or '', 90) if data['article'] else ''}")
    print(f"  kept:  {clip(data['kept']['title'] or '', 90)}")
    print()
    print_side_by_side(data["diff"], style)


def print_side_by_side(runs: list[list[str]], style: Style) -> None:
    """Word-level diff in two columns: this article on the left, the kept one on the right."""
    width = max(30, (min(160, shutil.get_terminal_size((120, 20)).columns) - 7) // 2)
    print(f"  {'this article'.ljust(width)} | kept article")
    print(f"  {'-' * width}-+-{'-' * width}")
    for op, left, right in runs:
        if op == "equal":
            left = right = shorten_equal(left, EQUAL_CONTEXT, "same words")
            left_lines = textwrap.wrap(left, width) or [""]
            right_lines = left_lines
            paint_left = paint_right = ()
        else:
            left_lines = textwrap.wrap(f"[-{left}-]" if left else "", width) or [""]
            right_lines = textwrap.wrap(f"{{+{right}+}}" if right else "", width) or [""]
            paint_left, paint_right = ("red",), ("green",)
        for i in range(max(len(left_lines), len(right_lines))):
            a = left_lines[i] if i < len(left_lines) else ""
            b = right_lines[i] if i < len(right_lines) else ""
            print(f"  {style(a.ljust(width), *paint_left)} | {style(b, *paint_right)}")


# --- search -------------------------------------------------------------------------------


def search(night: Night, pattern: str, ignore_case: bool) -> list[dict[str, Any]]:
    flags = regex.IGNORECASE if ignore_case else 0
    try:
        compiled = regex.compile(pattern, flags)
    except regex.error as error:
        raise ValueError(f"bad pattern {pattern!r}: {error}") from error
    hits = []
    for article in night.articles():
        for field, text in (("title", article.get("title") or ""), ("text", article["text"])):
            for number, line in enumerate(text.split("\n"), start=1):
                match = compiled.search(line)
                if match:
                    hits.append({"id": article["id"], "field": field, "line": number, "text": line,
                                 "start": match.start(), "end": match.end()})
    return hits


def print_hits(hits: list[dict[str, Any]], style: Style) -> None:
    for hit in hits:
        line, start, end = hit["text"], hit["start"], hit["end"]
        left = max(0, start - 60)
        rest = line[end:]
        rest = rest if len(rest) <= 60 else rest[:59] + "…"
        shown = ("…" if left else "") + printable(line[left:start]) + style(printable(line[start:end]), "red", "bold") + printable(rest)
        print(f"{style(printable(hit['id']), 'cyan')}:{hit['field']}:{hit['line']}: {shown}")
    print(style(f"{len(hits)} match(es)", "dim"), file=sys.stderr)


# --- command line -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    program = "newsclean" if os.path.basename(sys.argv[0]) == "newsclean" else "python -m pipeline"
    parser = argparse.ArgumentParser(prog=f"{program} inspect", description=__doc__.split("\n\n")[0])
    parser.add_argument("night", help="a night's output folder, e.g. out/2026-11-27")
    parser.add_argument("command", nargs="?", choices=("show", "why", "grep"))
    parser.add_argument("argument", nargs="?", help="an article id (show, why) or a pattern (grep)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("-i", "--ignore-case", action="store_true", help="grep: ignore case")
    args = parser.parse_intermixed_args(argv)
    if args.command and not args.argument:
        parser.error(f"{args.command} needs {'a pattern' if args.command == 'grep' else 'an article id'}")
    colour = args.color == "always" or (
        args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    style = Style(colour)
    try:
        night = Night(args.night)
        if args.command is None:
            data: Any = overview(night)
            printer = print_overview
        elif args.command == "show":
            data, printer = describe(night, args.argument), print_article
        elif args.command == "why":
            data, printer = explain(night, args.argument), print_explanation
        else:
            data, printer = search(night, args.argument, args.ignore_case), print_hits
    except (NightNotFound, KeyError, ValueError) as error:
        print(str(error).strip("'\""), file=sys.stderr)
        return 2
    try:
        if args.json:
            sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        elif printer is print_hits:  # escapes each piece itself: the match offsets are the text's
            printer(data, style)
        else:
            printer(escaped(data), style)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed the pipe: fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0 if not (args.command == "grep" and not data) else 1
