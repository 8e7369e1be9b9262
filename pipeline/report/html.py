"""``report.html``: one self-contained page about a night, for people, each morning.

No network requests (no scripts, fonts, images or styles from elsewhere: CSS and SVG
charts are inline), no timestamps (the same night gives the same bytes). It shows the
night's figures, the trend of the last nights, the largest duplicate groups with
word-level diffs, the most removed lines per rule, and the rejected inputs.
"""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from pipeline.report.nightdata import (
    Night,
    WordDiff,
    duplicate_groups,
    shorten_equal,
    summary,
)
from pipeline.text import clip

MAX_GROUPS = 10
MAX_MEMBERS = 3
MAX_REJECTED = 200
DIFF_CONTEXT = 25  # words of unchanged text kept around changes

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2330;padding:0 1rem}h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:1px solid #d8dde6;padding-bottom:.3rem}.sub{color:#5b6475;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #d8dde6;border-radius:8px;padding:.6rem .9rem;
min-width:120px}.card b{display:block;font-size:1.5rem}.card span{color:#5b6475;font-size:.85rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0}td,th{border-bottom:1px solid #e6e9ef;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f6f9}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1.2rem}.chart{border:1px solid #e6e9ef;border-radius:8px;padding:.5rem}
.chart h3{font-size:.95rem;margin:.2rem 0 .4rem}.diff td{width:50%;font-size:.9rem}del{background:#fde2e1;
text-decoration:line-through}ins{background:#dcf5e3;text-decoration:none}.muted{color:#5b6475}
.legend span{margin-right:1rem;font-size:.85rem}code{font-size:.85rem;word-break:break-all}
"""
COLOURS = ("#2f6fdf", "#e0712c", "#2c9f5b", "#b8324f", "#7c4dbb", "#8a8f1c", "#1c8a8a", "#6b6b6b")


def render(night: Night) -> str:
    """The whole page, as a string."""
    nights = night.previous() + [night]
    trend = [summary(n) for n in nights]
    current = trend[-1]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>newsclean night {escape(night.date)}</title><style>{CSS}</style></head><body>",
        f"<h1>Night {escape(night.date)}</h1>",
        f'<p class="sub">{current["files"]} raw files &rarr; {current["articles_in"]} articles in, '
        f"{current['articles_out']} clean unique articles out</p>",
        _cards(current),
        "<h2>Trend</h2>",
        _charts(trend),
        "<h2>What was removed</h2>",
        _removed(night, current),
        "<h2>Largest duplicate groups</h2>",
        _groups(night),
        "<h2>Rejected input</h2>",
        _rejected(night, current),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _cards(s: dict[str, Any]) -> str:
    duplicates = sum(s["duplicates"].values())
    cards = [
        ("articles in", s["articles_in"]),
        ("articles out", s["articles_out"]),
        ("duplicates", f"{duplicates}"),
        ("duplicate rate", f"{100 * s['duplicate_rate']:.1f}%"),
        ("encoding repaired", s["repaired"]),
        ("rejected", s["rejected"]),
        ("lines removed", sum(s["lines_removed"].values())),
    ]
    methods = ", ".join(f"{k} {v}" for k, v in sorted(s["duplicates"].items()))
    items = "".join(f'<div class="card"><b>{escape(str(v))}</b><span>{escape(k)}</span></div>' for k, v in cards)
    return f'<div class="cards" id="figures">{items}</div><p class="muted">Duplicates by method: {escape(methods)}</p>'


def _charts(trend: list[dict[str, Any]]) -> str:
    labels = [t["date"][5:] for t in trend]
    rules = sorted({rule for t in trend for rule in t["lines_removed"]})
    charts = [
        line_chart("Articles", labels, {"in": [t["articles_in"] for t in trend],
                                        "out": [t["articles_out"] for t in trend]}),
        line_chart("Duplicate rate (%)", labels, {"duplicates": [round(100 * t["duplicate_rate"], 2) for t in trend]}),
        line_chart("Lines removed, per rule", labels, {r: [t["lines_removed"].get(r, 0) for t in trend] for r in rules}),
    ]
    return f'<div class="charts">{"".join(charts)}</div>'


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]],
               width: int = 340, height: int = 180) -> str:
    """An inline SVG line chart (one point per night, so a single night is a dot)."""
    left, right, top, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for values in series.values() for v in values] + [1])
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    svg = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}">']
    svg.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>')
    svg.append(f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{_number(peak)}</text>')
    svg.append(f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>')
    for i, label in enumerate(labels):
        if n <= 8 or i % max(1, n // 7) == 0 or i == n - 1:
            svg.append(f'<text x="{x(i):.1f}" y="{height - 6}" font-size="10" text-anchor="middle">{escape(label)}</text>')
    legend = []
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if n > 1:
            svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            svg.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(name)}: '
                       f'{_number(v)}</title></circle>')
        legend.append(f'<span style="color:{colour}">&#9632; {escape(name)} ({_number(values[-1])})</span>')
    svg.append("</svg>")
    return (f'<div class="chart"><h3>{escape(title)}</h3>{"".join(svg)}'
            f'<div class="legend">{"".join(legend)}</div></div>')


def _number(value: float) -> str:
    return f"{value:g}"


def _removed(night: Night, current: dict[str, Any]) -> str:
    if not current["lines_removed"]:
        return '<p class="muted">No line was removed.</p>'
    rows = []
    for rule, lines in night.top_removed().items():
        examples = "<br>".join(f"{count}&times; {escape(clip(text, 140))}" for text, count in lines)
        rows.append(f'<tr><td>{escape(rule)}</td><td class="n">{current["lines_removed"].get(rule, 0)}</td>'
                    f"<td>{examples}</td></tr>")
    return ('<table id="removed"><tr><th>rule</th><th>lines</th><th>most frequent lines</th></tr>'
            + "".join(rows) + "</table>")


def articles_needed(duplicates: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The ids of the articles the page shows, by night, given the night's records of
    ``duplicates.jsonl`` (their ``source`` is not needed): what a writer that has them in
    hand can give the page (``nightdata.InHand``)."""
    wanted: dict[str, set[str]] = {}
    for kept_id, kept_night, members in duplicate_groups(duplicates)[:MAX_GROUPS]:
        wanted.setdefault(kept_night, set()).add(kept_id)
        for member in members[:MAX_MEMBERS]:
            wanted.setdefault(member["night"], set()).add(member["id"])
    return wanted


def _groups(night: Night) -> str:
    groups = night.duplicate_groups()
    if not groups:
        return '<p class="muted">No duplicates tonight.</p>'
    shown = groups[:MAX_GROUPS]
    # The articles the page shows, read in one pass per night.
    wanted = articles_needed(night.duplicates)
    articles: dict[tuple[str, str], dict[str, Any]] = {}
    for date, ids in sorted(wanted.items()):
        source = night if date == night.date else night.sibling(date)
        if source is not None:
            articles.update(((date, i), a) for i, a in source.find(ids).items())
    out = [f'<p class="muted">{len(groups)} group(s); the {len(shown)} largest:</p>']
    for kept_id, kept_night, members in shown:
        kept = articles.get((kept_night, kept_id))
        title = (kept or {}).get("title") or kept_id
        out.append(f'<section class="group"><h3>{escape(title)} <span class="muted">&mdash; kept '
                   f"<code>{escape(kept_id)}</code> ({escape(kept_night)}), {len(members)} duplicate(s)</span></h3>")
        for member in members[:MAX_MEMBERS]:
            mine = articles.get((member["night"], member["id"]))
            label = "superseded" if member.get("superseded") else "dropped"
            out.append(f'<p>{label} <code>{escape(member["id"])}</code>: {escape(member["method"])}, '
                       f"Jaccard {member['similarity']}</p>")
            if kept and mine:
                out.append(_diff_table(WordDiff.of(mine["text"], kept["text"])))
        out.append("</section>")
    return "\n".join(out)


def _diff_table(diff: WordDiff) -> str:
    left, right = [], []
    for op, a, b in diff.runs:
        if op == "equal":
            a = shorten_equal(a, DIFF_CONTEXT)
            left.append(escape(a))
            right.append(escape(a))
        else:
            if a:
                left.append(f"<del>{escape(a)}</del>")
            if b:
                right.append(f"<ins>{escape(b)}</ins>")
    return ('<table class="diff"><tr><th>dropped article</th><th>kept article</th></tr>'
            f'<tr><td>{" ".join(left)}</td><td>{" ".join(right)}</td></tr></table>')


def _rejected(night: Night, current: dict[str, Any]) -> str:
    if not night.rejected:
        return '<p class="muted">Nothing was rejected.</p>'
    reasons = "".join(f'<tr><td>{escape(reason)}</td><td class="n">{count}</td></tr>'
                      for reason, count in sorted(current["rejected_by_reason"].items(), key=lambda i: (-i[1], i[0])))
    rows = []
    for record in night.rejected[:MAX_REJECTED]:
        where = f"{record['file']}" + (f":{record['line']}" if record.get("line") is not None else "")
        rows.append(f"<tr><td><code>{escape(where)}</code></td><td>{escape(record['stage'])}</td>"
                    f"<td>{escape(record['reason'])}</td><td><code>{escape(clip(record.get('excerpt') or '', 160))}"
                    "</code></td></tr>")
    more = current["rejected"] - MAX_REJECTED
    tail = f'<p class="muted">and {more} more in rejected.jsonl</p>' if more > 0 else ""
    return (f'<table id="reasons"><tr><th>reason</th><th>items</th></tr>{reasons}</table>'
            '<table id="rejected"><tr><th>where</th><th>stage</th><th>reason</th><th>input</th></tr>'
            + "".join(rows) + "</table>" + tail)
