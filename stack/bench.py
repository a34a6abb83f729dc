"""``make bench``: start-up time, memory and answer latency of the whole stack.

Prints figures; asserts nothing (speed goals are read, not tested). Uses a
throw-away SQLite file so it never touches the real data.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx

from stack.model import ensure_model
from stack.services import scratch_stack


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc): Rasa's workers, a shell's children."""
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


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    total_kb = 0
    for current in descendants(pid):
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def main() -> None:
    began = time.monotonic()
    model = ensure_model()
    model_seconds = time.monotonic() - began
    started = time.monotonic()
    with scratch_stack(model, with_actions=True) as (stack, settings):
        ready = time.monotonic() - started
        url = f"{settings.rasa_url}/webhooks/rest/webhook"
        messages = ["slt", "c koi l'alternance", "aide permis ?", "merci", "ki metier ki recrute en gwada"]
        latencies = []
        with httpx.Client(timeout=30) as http:
            for i in range(40):
                t0 = time.perf_counter()
                http.post(url, json={"sender": f"bench-{i % 8}", "message": messages[i % len(messages)]})
                latencies.append((time.perf_counter() - t0) * 1000)
        print(f"model check/training       : {model_seconds:6.1f} s ({model.name})")
        print(f"Rasa + actions ready in    : {ready:6.1f} s (warm start, model already trained)")
        pids = {service.name: service.process.pid for service in stack.services if service.process}
        for service in stack.services:
            print(f"  {service.name:8s} ready after  : {service.ready_after or 0.0:6.1f} s, "
                  f"memory {tree_rss_mb(pids[service.name]):7.0f} MB")
        total = sum(tree_rss_mb(pid) for pid in pids.values())
        print(f"stack memory (RSS, no bot) : {total:6.0f} MB")
        latencies.sort()
        print(f"answer latency, 40 msgs    : median {statistics.median(latencies):.0f} ms, "
              f"p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms")

if __name__ == "__main__":
    main()
