"""CPU time and memory of the server processes, read from /proc.

CPU time per message (utime + stime of a process and its children, divided by the
messages answered) is the figure that stays meaningful on a shared machine: other
people's load stretches latencies, not the CPU our processes spend.
"""

from __future__ import annotations

import os
from pathlib import Path

from stack.bench import tree_rss_mb

TICKS = os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its living descendants (plus their reaped children), in seconds."""
    total = 0
    for each in descendants(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
        total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def rss_mb(pids: list[int]) -> float:
    return sum(tree_rss_mb(pid) for pid in pids)
