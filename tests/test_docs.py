"""The README and docs/ as a user reads them: every shell command in a ```sh block is run,
in order, and must exit 0 (or the code a trailing ``# exit N`` states), so none can rot.

Blocks of one document share a sandbox: a copy of the project's samples, config and
tasks (what a checkout or an install gives), the commands of the environment the tests
run in (``newsclean``, ``luigi``, ``python``) first on PATH. Paths that name the machine
are moved into the sandbox: ``/tmp/newsclean-demo``, ``/opt/newsclean`` and ``/etc/``.
``crontab`` and ``systemctl`` are stand-ins that check what they are given (the file
exists and each cron line names a script that exists; the units are installed) instead
of changing the machine. The two set-up lines at the top of the README are run by CI
itself (``.ci/run``), not here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
EXPECTED = re.compile(r"#\s*exit (\d+)\s*$")

FAKE_CRONTAB = """#!/bin/bash
# crontab FILE: every line a schedule of five fields and a script that exists.
file="$1"; [[ -f "$file" ]] || { echo "crontab: $file: no such file" >&2; exit 1; }
while read -r m h dom mon dow command rest; do
    [[ -z "$m" || "$m" == \\#* ]] && continue
    [[ -n "$command" ]] || { echo "crontab: a line without a command" >&2; exit 1; }
    script="${command/\\/opt\\/newsclean/$NEWSCLEAN_SANDBOX/project}"
    [[ -x "$script" ]] || { echo "crontab: $command: no such script" >&2; exit 1; }
done < "$file"
"""
FAKE_SYSTEMCTL = """#!/bin/bash
# systemctl: daemon-reload, or enable --now UNIT...: each unit installed.
[[ "$1" == daemon-reload ]] && exit 0
[[ "$1" == enable ]] || { echo "systemctl: $1: not expected here" >&2; exit 1; }
shift; [[ "$1" == --now ]] && shift
for unit in "$@"; do
    [[ -f "$NEWSCLEAN_SANDBOX/etc/systemd/system/$unit" ]] || { echo "systemctl: $unit: not installed" >&2; exit 1; }
done
"""


def blocks(document: Path) -> list[str]:
    return FENCE.findall(document.read_text(encoding="utf-8"))


def commands(block: str) -> list[tuple[str, int]]:
    """A block's commands (continued lines and here-documents joined), each with the exit
    code it must give."""
    out: list[tuple[str, int]] = []
    lines = block.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        k += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\") and k < len(lines):
            line = line[:-1] + lines[k]
            k += 1
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        if heredoc:
            body = []
            while k < len(lines) and lines[k] != heredoc.group(1):
                body.append(lines[k])
                k += 1
            k += 1
            line = "\n".join([line, *body, heredoc.group(1)])
            out.append((line, 0))
            continue
        expected = EXPECTED.search(line)
        out.append((line, int(expected.group(1)) if expected else 0))
    return out


def script(block: str, sandbox: Path) -> str:
    """The block as one bash script that checks each command's exit code."""
    parts = ["set -u -o pipefail"]
    for number, (command, code) in enumerate(commands(block), 1):
        command = (command.replace("/tmp/newsclean-demo", str(sandbox / "demo"))
                   .replace("/opt/newsclean", str(sandbox / "project")).replace("/etc/", f"{sandbox}/etc/"))
        parts.append(f"{command}\nrc=$?\nif [ $rc != {code} ]; then echo \"command {number} exited $rc, "
                     f"expected {code}\" >&2; exit 1; fi")
    return "\n".join(parts) + "\n"


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    for name in ("samples", "config", "tasks"):
        shutil.copytree(ROOT / name, project / name)
    (tmp_path / "etc").mkdir()
    fakes = tmp_path / "fakebin"
    fakes.mkdir()
    for name, text in (("crontab", FAKE_CRONTAB), ("systemctl", FAKE_SYSTEMCTL)):
        (fakes / name).write_text(text)
        (fakes / name).chmod(0o755)
    (tmp_path / "home").mkdir()
    return tmp_path


@pytest.mark.parametrize("document", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_every_shell_command_of_the_documentation_runs(document, sandbox):
    found = blocks(document)
    if any(re.search(r"(^|[|;&]\s*)jq ", block, re.M) for block in found) and shutil.which("jq") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jq is not installed and CI=true")
        pytest.skip(f"{document.name} shows jq, which is not installed")
    if document.name == "README.md":
        assert len(found) >= 3  # the README shows its commands as ```sh blocks
    environment = {
        "PATH": os.pathsep.join([str(sandbox / "fakebin"), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(sandbox / "home"), "PYTHONPATH": str(ROOT), "NEWSCLEAN_SANDBOX": str(sandbox),
        "LANG": "C.UTF-8",
    }
    for number, block in enumerate(found, 1):
        result = subprocess.run(["bash", "-c", script(block, sandbox)], cwd=sandbox / "project", env=environment,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (f"{document.name}, block {number}:\n{block}\n"
                                        f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def test_the_readme_is_a_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(readme) <= 300
    first = [line.strip() for line in readme[:2]]
    assert first[0].startswith("python3 -m venv .venv && ") and first[1] == ".venv/bin/python -m pytest -q"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "sed -n 1p README.md" in ci and "sed -n 2p README.md" in ci  # CI runs the two lines as printed
