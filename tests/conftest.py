"""Shared fixtures: the seed file, the shared corpora, and running a night with Luigi."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import luigi
import luigi.configuration
import pytest
from luigi.task_register import Register

from pipeline.io.jsonl import read_json, read_jsonl
from pipeline.tasks import CleanCorpus  # imported first: it loads config/luigi.cfg

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seeds" / "000_2f4055bd3e4f31fc.txt"
CORPORA = SHARED / "corpora"
SAMPLES = ROOT / "samples"
SAMPLE_NIGHT = "2026-11-27"


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(command: list[str], port: int) -> Iterator[None]:
    """Run a server process for the duration of a block, once it accepts connections."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait()


def gzip_stream(pieces: list[bytes]) -> bytes:
    """gzip data of the pieces, compressed as they come: a bomb of GBs is made in MBs."""
    import zlib

    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(compressor.compress(piece) for piece in pieces) + compressor.flush()


def traced_peak(call: Any) -> tuple[Any, int]:
    """``call()``'s result, and the most memory Python held for it (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        return call(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def require(path: Path) -> Path:
    """Skip when shared data is missing (a user's fresh clone), fail when CI=true."""
    if not path.exists():
        message = f"{path} is missing (the shared corpora/seeds live beside the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true")
        pytest.skip(message)
    return path


@pytest.fixture
def seed_path() -> Path:
    return require(SEED)


@pytest.fixture
def seed_lines(seed_path: Path) -> list[str]:
    """The seed's lines, numbered from 1 like an editor (index 0 is empty)."""
    return [""] + seed_path.read_text(encoding="utf-8").split("\n")


@pytest.fixture
def corpora() -> Path:
    return require(CORPORA)


class Night:
    """A night run on temporary folders, with its outputs read back."""

    def __init__(self, root: Path, date: str = SAMPLE_NIGHT) -> None:
        self.root = root
        self.date = date
        self.raw_dir = root / "raw"
        self.out_dir = root / "out"
        self.state_dir = root / "state"
        self.raw = self.raw_dir / date
        self.raw.mkdir(parents=True, exist_ok=True)

    @property
    def out(self) -> Path:
        return self.out_dir / self.date

    def add(self, name: str, data: bytes | str) -> Path:
        path = self.raw / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path.write_bytes(data)
        return path

    def copy(self, source: Path, name: str | None = None) -> Path:
        target = self.raw / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target

    @contextmanager
    def settings(self, **settings: Any) -> Iterator[None]:
        """This night's folders (and ``settings``) as the ``[pipeline]`` settings, inside."""
        config = luigi.configuration.get_config()
        values = {
            "raw_dir": str(self.raw_dir),
            "out_dir": str(self.out_dir),
            "state_dir": str(self.state_dir),
            **{k: str(v) for k, v in settings.items()},
        }
        saved = {k: config.get("pipeline", k, None) for k in values}
        for key, value in values.items():
            config.set("pipeline", key, value)
        Register.clear_instance_cache()
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    config.remove_option("pipeline", key)
                else:
                    config.set("pipeline", key, value)
            Register.clear_instance_cache()

    def run(self, workers: int = 1, **settings: Any) -> bool:
        """Run CleanCorpus for this night with Luigi; returns whether it succeeded."""
        with self.settings(**settings):
            return luigi.build(
                [CleanCorpus(date=dt.date.fromisoformat(self.date))],
                local_scheduler=True,
                workers=workers,
                log_level="WARNING",
            )

    def records(self, name: str) -> list[dict]:
        return list(read_jsonl(self.out / name))

    def report(self) -> dict:
        return read_json(self.out / "report.json")

    def output_bytes(self) -> dict[str, bytes]:
        """Every output file's bytes (report.json without its timings)."""
        out = {}
        for path in sorted(self.out.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.name == "report.json" or path.name.endswith("stats.json"):
                    data = _without_seconds(data)
                out[path.relative_to(self.out).as_posix()] = data
        return out


def _without_seconds(data: bytes) -> bytes:
    import orjson

    document = orjson.loads(data)
    document.pop("seconds", None)
    if isinstance(document.get("extract"), dict):  # a read stage's extraction, timed too
        document["extract"].pop("seconds", None)
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


@pytest.fixture
def night(tmp_path: Path) -> Night:
    return Night(tmp_path)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A Redis server for the tests: NEWSCLEAN_TEST_REDIS_URL (CI starts one), else a private one."""
    url = os.environ.get("NEWSCLEAN_TEST_REDIS_URL")
    if url:
        # One database a test worker (pytest-xdist's gw0, gw1 ...), counting down from the URL's.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        base, _, db = url.rpartition("/")
        yield f"{base}/{max(0, int(db or 0) - int(worker.removeprefix('gw') or 0))}"
        return
    with private_redis(tmp_path_factory.mktemp("redis")) as port:
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def private_redis(folder: Path) -> Iterator[int]:
    """A redis-server of our own on a free loopback port (skipped without the program, a
    failure under CI=true), for the duration of a block; gives its port."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed and CI=true")
        pytest.skip("redis-server is not installed")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(folder)]
    with local_server(command, port):
        yield port


@pytest.fixture
def redis_url(redis_server):
    """The test Redis, emptied: each test starts without another's index."""
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


REDIS_FIXTURES = {"redis_server", "redis_url", "own_redis"}


def pytest_collection_modifyitems(config, items):
    """Every test that starts or uses a Redis server carries the ``redis`` marker
    (``-m "not redis"`` leaves them out where redis-server is not installed)."""
    for item in items:
        if REDIS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


def installed_command(name: str) -> str:
    """A command installed with the pipeline (``luigid``, ``newsclean``): beside the Python
    running the tests (a virtual environment's bin/, which need not be on PATH), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)
