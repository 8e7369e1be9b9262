"""The memory of a process and all its descendants, added up, sampled from ``/proc`` by
a process of its own, so that sampling takes no time from the process measured (a
sampling thread inside it held the interpreter's lock 20 times a second and added
about a twentieth to a night's seconds).

    python -m bench.memory PID [INTERVAL]

samples every INTERVAL seconds (0.05) until its standard input closes, then prints
``{"rss": bytes, "pss": bytes}``: the largest sums of resident and of proportional sets
seen (itself left out). Standard library only: it starts in a few milliseconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path


class TreeMemory:
    """Samples a process tree's memory, its resident sets added up (``peak``) and its
    proportional sets added up (``peak_pss``), leaving out the sampling process."""

    def __init__(self, root: int, skip: int | None = None) -> None:
        self.root, self.skip, self.peak, self.peak_pss = root, skip, 0, 0
        self.page = os.sysconf("SC_PAGE_SIZE")

    def measure(self) -> None:
        resident, proportional = self.sample()
        self.peak, self.peak_pss = max(self.peak, resident), max(self.peak_pss, proportional)

    def sample(self) -> tuple[int, int]:
        parents: dict[int, int] = {}
        resident: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.skip:
                continue
            try:
                stat = (entry / "stat").read_bytes()
                statm = (entry / "statm").read_bytes().split()
            except OSError:  # the process ended meanwhile
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            resident[int(entry.name)] = int(statm[1]) * self.page
        tree, total, proportional = {self.root}, 0, 0
        for pid in sorted(parents):  # children have larger ids than their parents, mostly:
            chain, seen = pid, set()  # so walk each process's ancestry instead
            while chain in parents and chain not in tree and chain not in seen:
                seen.add(chain)
                chain = parents[chain]
            if chain in tree:
                tree |= seen
        for pid in tree:
            total += resident.get(pid, 0)
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_bytes().splitlines():
                    if line.startswith(b"Pss:"):
                        proportional += int(line.split()[1]) * 1024
                        break
            except OSError:
                pass
        return total, proportional


class Sampler:
    """``bench.memory`` started beside this process: ``stop()`` gives the peaks (bytes)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.memory", str(os.getpid()), str(interval)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        cwd=Path(__file__).resolve().parent.parent)

    def stop(self) -> dict[str, int]:
        out, _ = self.process.communicate(b"")
        return json.loads(out)


def main() -> int:
    root, interval = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    memory = TreeMemory(root, skip=os.getpid())
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), done.set()), daemon=True).start()
    while not done.wait(interval):
        memory.measure()
    memory.measure()
    print(json.dumps({"rss": memory.peak, "pss": memory.peak_pss}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
