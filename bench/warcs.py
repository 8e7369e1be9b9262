"""Write WARC files the way crawlers do (warcio's writer), for the benchmarks, the tests
and the samples: a warcinfo record, then per page a request and a response record (HTTP
headers and body as fetched), and any other records given.

    python -m bench.warcs samples/2026-11-28/crawl.warc.gz   # the sample night's crawl
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# The records' dates and ids are fixed, so that the same pages give the same bytes.
WARC_DATE = "2026-11-28T03:00:00Z"


@dataclass
class Fetched:
    """One fetch: the URL, the HTTP status and headers, and the body as sent."""

    url: str
    body: bytes
    status: str = "200 OK"
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/html")])


def chunked(body: bytes, size: int = 1000) -> bytes:
    """``body`` in HTTP/1.1 chunked transfer coding."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body, mtime=0)


def write_warc(path: Path | str, fetches: list[Fetched], metadata: bool = True) -> Path:
    """A WARC file (gzip-compressed per record when ``path`` ends in .gz) of the fetches."""
    path = Path(path)
    compress = path.name.endswith(".gz")
    parts: list[bytes] = []
    writer = WARCWriter(io.BytesIO(), gzip=False)  # makes the records; each is written alone
    number = 0

    def record_id() -> str:
        nonlocal number
        number += 1
        return f"<urn:uuid:00000000-0000-4000-8000-{number:012d}>"

    def write(record) -> None:
        record.rec_headers.replace_header("WARC-Record-ID", record_id())
        record.rec_headers.replace_header("WARC-Date", WARC_DATE)
        buffer = io.BytesIO()
        WARCWriter(buffer, gzip=False).write_record(record)
        # One gzip member a record, as crawlers write them (with no time in the header:
        # the same pages give the same bytes).
        parts.append(gzip.compress(buffer.getvalue(), mtime=0) if compress else buffer.getvalue())

    write(writer.create_warcinfo_record(path.name, {"software": "bench.warcs", "format": "WARC File Format 1.1"}))
    for fetch in fetches:
        host = fetch.url.split("/")[2]
        request = StatusAndHeaders(f"GET /{fetch.url.split('/', 3)[3] if fetch.url.count('/') > 2 else ''} HTTP/1.1",
                                   [("Host", host), ("User-Agent", "bench.warcs")], is_http_request=True)
        write(writer.create_warc_record(fetch.url, "request", payload=io.BytesIO(b""), http_headers=request))
        response = StatusAndHeaders(fetch.status, fetch.headers, protocol="HTTP/1.1")
        write(writer.create_warc_record(fetch.url, "response", payload=io.BytesIO(fetch.body), http_headers=response,
                                        length=len(fetch.body)))
        if metadata:
            write(writer.create_warc_record(fetch.url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                                            warc_content_type="application/warc-fields"))
    path.write_bytes(b"".join(parts))
    return path


PAGES = Path(__file__).resolve().parent / "pages"
SAMPLE_NIGHT = Path(__file__).resolve().parent.parent / "samples" / "2026-11-28"


def sample_crawl() -> list[Fetched]:
    """The sample night's crawl: the footbridge story (its page is in the night as a file
    too: a duplicate across inputs), a match report sent chunked and gzip-compressed, an
    image, a page not found."""
    report = (PAGES / "match-report.html").read_bytes()
    return [
        Fetched("https://valleypost.example/news/2026/11/27/footbridge-vote",
                (SAMPLE_NIGHT / "council-vote.html").read_bytes(),
                headers=[("Content-Type", "text/html; charset=utf-8"), ("Last-Modified", "Fri, 27 Nov 2026 18:45:00 GMT")]),
        Fetched("https://varnsport.example/reports/rovers-city", chunked(gzipped(report)),
                headers=[("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked"),
                         ("Content-Encoding", "gzip")]),
        Fetched("https://varnsport.example/img/goal.png", b"\x89PNG\r\n\x1a\n" + zlib.compress(b"\x00" * 64),
                headers=[("Content-Type", "image/png")]),
        Fetched("https://varnsport.example/reports/old-page", b"<html><body>Not found</body></html>",
                status="404 Not Found"),
    ]


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_NIGHT / "crawl.warc.gz"
    write_warc(target, sample_crawl())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
