"""The tables ``make load`` prints (figures only; nothing here asserts a goal)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from stack.load.check import Tally
from stack.load.runner import LevelResult
from stack.load.stats import best_under, ms, percentile

P95_LIMIT_MS = 500.0


def say(line: str = "") -> None:
    print(line, flush=True)


def _per_msg(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:6.1f}"


def level_table(results: Sequence[LevelResult]) -> None:
    if not results:
        return
    say(f"\n== {results[0].target} ==")
    say("chats   msg/s    p50    p95    p99  msgs err retry | lost dup reord rep-lost rep-dup | "
        "CPU ms/msg: rasa actions load | Rasa cores | RSS MB")
    for r in results:
        t = r.tally
        say(f"{r.concurrency:5d} {r.rate:7.1f} {ms(r.latency(50)):>6} {ms(r.latency(95)):>6} {ms(r.latency(99)):>6} "
            f"{len(r.answered):5d} {len(r.errors):3d} {r.retries:5d} | {t.lost:4d} {t.duplicated:3d} "
            f"{t.reordered:5d} {t.replies_lost:8d} {t.replies_duplicated:7d} | "
            f"{_per_msg(r.cpu_per_message('rasa'))} {_per_msg(r.cpu_per_message('actions'))} "
            f"{_per_msg(r.cpu_per_message('load client'))} | {r.cpu_ms.get('rasa', 0.0) / 1000 / (r.seconds or 1.0):10.2f} | "
            f"{r.rss_mb:6.0f}")
    say("(Rasa cores: CPU seconds of every Rasa server per second of the level. One Rasa server is one Python "
        "event loop: about 1 core at most. Well under that while latency grows: Rasa waits (tracker store, locks, "
        "actions) or other work holds the cores)")
    for r in results:
        slow = ", ".join(f"{step} {ms(p95)} ms" for step, p95, _ in r.slowest_steps())
        say(f"  {r.concurrency:3d} chats, slowest steps (p95): {slow}")
        for outcome in r.errors[:3]:
            say(f"      error at {outcome.step}: {outcome.error}")
        reasons = Counter(o.retried_for for o in r.outcomes if o.retries and o.retried_for)
        if reasons:
            say("      retried for: " + ", ".join(f"{reason} ({count})" for reason, count in reasons.most_common(4)))
        if r.tally.unreadable:
            say(f"      {r.tally.unreadable} trackers unreadable")


def ratio_table(ours: Sequence[LevelResult], standard: Sequence[LevelResult]) -> None:
    if not ours or not standard:
        return
    theirs = {r.concurrency: r for r in standard}
    say("\n== ours / standard (same model, same load) ==")
    say("chats  ours msg/s  std msg/s  ratio | ours p95  std p95 | CPU ms/msg (Rasa+actions) ours  std  std/ours")
    for r in ours:
        other = theirs.get(r.concurrency)
        if other is None:
            continue
        ratio = r.rate / other.rate if other.rate else math.nan
        cpu_ours = r.cpu_per_message("rasa") + r.cpu_per_message("actions")
        cpu_std = other.cpu_per_message("rasa") + other.cpu_per_message("actions")
        say(f"{r.concurrency:5d} {r.rate:11.1f} {other.rate:10.1f} {ratio:6.2f} | {ms(r.latency(95)):>8} "
            f"{ms(other.latency(95)):>8} | {_per_msg(cpu_ours):>31} {_per_msg(cpu_std)} "
            f"{cpu_std / cpu_ours if cpu_ours else math.nan:9.2f}")
    say("(on a shared machine msg/s follows the other tenants' load; CPU per message does not)")
    best_ours = best_under({r.concurrency: (r.rate, r.latency(95)) for r in ours}, P95_LIMIT_MS)
    best_std = best_under({r.concurrency: (r.rate, r.latency(95)) for r in standard}, P95_LIMIT_MS)

    def told(best: tuple[int, float] | None) -> str:
        return f"{best[1]:.1f} msg/s at {best[0]} chats" if best else "no level"

    say(f"at p95 <= {P95_LIMIT_MS:.0f} ms (highest such level): ours {told(best_ours)}, standard {told(best_std)}"
        + (f", ratio {best_ours[1] / best_std[1]:.2f}" if best_ours and best_std and best_std[1] else ""))


def long_table(short: LevelResult, long: LevelResult, short_len: int) -> None:
    say("\n== long conversation (1 chat): per-message latency ==")
    s = [o.latency_ms for o in short.answered if o.latency_ms is not None]
    lg = [o.latency_ms for o in long.answered if o.latency_ms is not None]
    tail = lg[-short_len:]

    def line(label: str, values: list[float], cpu: str = "") -> None:
        mean = sum(values) / len(values) if values else math.nan
        say(f"{label:42s} msgs {len(values):4d}  mean {ms(mean):>5} ms  p50 {ms(percentile(values, 50)):>5} ms  "
            f"p95 {ms(percentile(values, 95)):>5} ms{cpu}")

    def cpu(result: LevelResult) -> str:
        return f"  Rasa CPU {_per_msg(result.cpu_per_message('rasa')).strip()} ms/msg"

    line(f"{short.conversations} conversations of {short_len} messages", s, cpu(short))
    line(f"1 conversation of {len(long.answered) + len(long.errors)} messages", lg, cpu(long))
    line(f"  its last {short_len} messages", tail)
    if short.errors or long.errors:
        say(f"  errors: {len(short.errors)} (short), {len(long.errors)} (long): "
            + "; ".join(f"{o.step}: {o.error}" for o in (short.errors + long.errors)[:3]))
    say(f"  tracker check: short {told(short.tally)}; long {told(long.tally)}")


def told(tally: Tally) -> str:
    """The order check in one line (only what is not zero, or "clean")."""
    if tally.clean:
        return "clean (nothing lost, duplicated or reordered)"
    return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in vars(tally).items() if value)
