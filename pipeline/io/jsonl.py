"""JSONL and JSON files, written atomically.

A file is written to a temporary name in its own folder, flushed to disk and
renamed into place, so a crash never leaves a half-written file that a rerun
would take for complete.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

_DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY


class OutputError(OSError):
    """An output could not be written; the message names the path."""


def dumps(record: Any) -> bytes:
    """One JSON line (with its line feed)."""
    return orjson.dumps(record, option=_DUMP_OPTIONS)


def clear_stale_temporaries(path: Path) -> None:
    """A run killed mid-write leaves its temporary file of ``path`` behind; the next writer
    of the same file clears it, unless the run that made it is still alive (two runs of a
    night at once, or another machine's run): temporary files are private to a run."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not owner_alive(stale.name[len(path.name) + 2 : -len(".tmp")]):
            _remove_quietly(str(stale))


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a file being written (or left by a killed run) under a
    temporary name, not an output: ``.NAME.TAG.tmp``."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


@contextmanager
def atomic_writer(path: Path | str) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing; it appears, complete, only on success."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clear_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{run_tag()}.", suffix=".tmp", dir=path.parent)
        # mkstemp makes the file private (0600); an output is as readable as any file
        # the process creates (0644 under umask 022), for the web server or next job.
        os.fchmod(fd, 0o666 & ~current_umask())
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            yield _Output(handle, path)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OutputError:  # this file's (see _Output), or another's being written beside it
        _remove_quietly(tmp)
        raise
    except OSError as error:
        _remove_quietly(tmp)
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
    except BaseException:
        _remove_quietly(tmp)
        raise


class _Output:
    """A file being written by :func:`atomic_writer`: a write that fails raises
    :class:`OutputError` naming the file, so an error is never put on another file written
    beside it (a stage writes several at once)."""

    __slots__ = ("handle", "path")

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle, self.path = handle, path

    def write(self, data) -> int:
        try:
            return self.handle.write(data)
        except OSError as error:
            raise OutputError(error.errno, f"cannot write {self.path}: {error.strerror}") from None


_HOST = socket.gethostname()


def run_tag() -> str:
    """What names this process in its temporary files: ``host-pid``."""
    return f"{_HOST}-{os.getpid()}"


def owner_alive(tag: str) -> bool:
    """Whether the run whose temporary file carries ``tag`` (``host-pid.random``, see
    :func:`run_tag`) may still be writing it.

    >>> owner_alive(run_tag() + ".abc123"), owner_alive(f"{_HOST}-999999999.x"), owner_alive("other-host-1.x")
    (True, False, True)
    """
    return run_alive(tag.rpartition(".")[0])


def run_alive(tag: str) -> bool:
    """Whether the run named ``host-pid`` (:func:`run_tag`) may still be at work: a process
    of this machine that is alive, or a process of another machine (which this one
    cannot see). A name without an owner (an earlier version's) is a killed run's."""
    host, _, pid = tag.rpartition("-")
    if not host or not pid.isdigit():
        return False
    if host != _HOST:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def stale_folders(folder: Path, name: str) -> list[Path]:
    """What killed runs left of a folder written under a temporary name and renamed into
    place: ``.NAME.tmp-TAG`` and ``.NAME.old-TAG`` whose run is gone."""
    found = []
    for kind in ("tmp", "old"):
        for path in folder.glob(f".{glob.escape(name)}.{kind}-*"):
            if not run_alive(path.name.split(f".{kind}-", 1)[1]):
                found.append(path)
    return sorted(found)


def current_umask() -> int:
    """The process's umask (read from /proc where it can be, without changing it)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def claim_file(path: Path | str, content: bytes) -> None:
    """Create ``path`` holding ``content``, complete, unless it exists: then
    ``FileExistsError`` (of two processes claiming it at once, exactly one succeeds)."""
    path = Path(path)
    clear_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{run_tag()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
    finally:
        _remove_quietly(tmp)


def place_file(source: Path | str, path: Path | str) -> None:
    """Make ``path`` hold ``source``'s bytes, atomically: a hard link to the same file
    (no copy) where the filesystem allows one, else a copy written like any output.
    ``source`` must be complete (written by :func:`atomic_writer`)."""
    path = Path(path)
    tmp = str(path.parent / f".{path.name}.{run_tag()}.link.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_quietly(tmp)
        os.link(source, tmp)
    except OSError:
        with atomic_writer(path) as handle, open(source, "rb") as original:
            shutil.copyfileobj(original, handle)
        return
    try:
        os.replace(tmp, path)
    except OSError as error:
        raise OutputError(error.errno, f"cannot write {path}: {error.strerror}") from error
    finally:
        # Left behind when ``path`` already was a link to ``source``: rename() does nothing then.
        _remove_quietly(tmp)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# Lines gathered before one write call (bounded memory, few system calls).
WRITE_BATCH = 2048


def fsync_dir(path: Path | str) -> None:
    """Make a folder's entries (files renamed or created in it) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_jsonl(path: Path | str, records: Iterable[Any]) -> int:
    """Write records as JSONL atomically; returns how many were written."""
    count = 0
    batch: list[bytes] = []
    with atomic_writer(path) as handle:
        for record in records:
            batch.append(dumps(record))
            if len(batch) == WRITE_BATCH:
                handle.write(b"".join(batch))
                count += len(batch)
                batch = []
        handle.write(b"".join(batch))
        count += len(batch)
    return count


def dump_lines(records: Iterable[Any]) -> bytes:
    """Records as JSONL bytes (for a worker process to hand back ready to write)."""
    return b"".join(map(dumps, records))


def write_bytes(path: Path | str, parts: Iterable[bytes]) -> None:
    """Write byte strings one after another, atomically."""
    with atomic_writer(path) as handle:
        for part in parts:
            handle.write(part)


def write_json(path: Path | str, data: Any) -> None:
    """Write one JSON document atomically, indented for people."""
    with atomic_writer(path) as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | _DUMP_OPTIONS))


# Bytes read at once from a file read line by line (the default, 8 KB, costs a system call
# every few lines of articles).
READ_BUFFER = 1 << 20


def read_jsonl(path: Path | str) -> Iterator[Any]:
    """Read back a JSONL file this pipeline wrote."""
    with open(path, "rb", buffering=READ_BUFFER) as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def read_json(path: Path | str) -> Any:
    with open(path, "rb") as handle:
        return orjson.loads(handle.read())
