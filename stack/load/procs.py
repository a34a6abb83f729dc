"""CPU time and memory of the server processes, read from /proc.

CPU time per message (utime + stime of a process and its children, divided by the
messages answered) is the figure that stays meaningful on a shared machine: other
people's load stretches latencies, not the CPU our processes spend.
"""

from __future__ import annotations

import os
from pathlib import Path

from stack.bench import descendants, tree_rss_mb

TICKS = os.sysconf("SC_CLK_TCK")


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
