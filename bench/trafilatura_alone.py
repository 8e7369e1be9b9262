"""The pages peer: one process running ``trafilatura.extract`` with its defaults on every
page of a night's folder (``.html.gz`` files and the responses of ``.warc.gz`` crawls),
the way a user who only extracts would. Prints the pages and seconds as JSON.

    python -m bench.trafilatura_alone RAW_DIR/YYYY-MM-DD
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import orjson
import trafilatura

from pipeline.read.html import Page
from pipeline.read.warc import WarcCounts, warc_pages


def pages(folder: Path):
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".html.gz"):
            yield gzip.decompress(path.read_bytes())
        elif path.name.endswith(".warc.gz"):
            for page in warc_pages(iter([gzip.decompress(path.read_bytes())]), path.name, folder.name, 1 << 30,
                                   WarcCounts()):
                if isinstance(page, Page):
                    yield page.html


def main() -> int:
    started = time.perf_counter()
    found = extracted = 0
    for html in pages(Path(sys.argv[1])):
        found += 1
        extracted += bool(trafilatura.extract(html))
    sys.stdout.buffer.write(orjson.dumps({"pages": found, "extracted": extracted,
                                          "seconds": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
