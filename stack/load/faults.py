"""``make load ARGS="--topology N [--faults]"``: the load on the production topology.

The topology (:mod:`stack.topology`: N Rasa servers behind HAProxy, PostgreSQL tracker
store, Redis lock store, RabbitMQ event broker) runs on a bench database of its own,
never the real one: ``LOAD_POSTGRES_URL`` (dropped and recreated) or by default
``akto_load_<pid>`` on 127.0.0.1, created for the run and dropped after it, so two runs
at once never share (or drop) each other's database. Its events go to a queue of the
run's own (``load_rasa_events_<pid>``, deleted after) unless ``RASA_EVENTS_QUEUE`` is set.

``--faults`` plays one level while, one after the other, a Rasa server is killed
(SIGKILL) and started again, the action server is restarted, and PostgreSQL is
restarted; it prints what the chats saw in each phase and what the trackers hold.
The client retries as the bot does (same ``message_id``, bounded), so a message
whose server died is answered by another one, and answered once: zero lost,
duplicated or reordered is the goal, printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from akto_data.db import dispose_engines, on_server, recreate_database_statements
from stack.load.report import level_table, say
from stack.load.runner import LevelResult, Load, Target, check_trackers
from stack.load.stats import ms

if TYPE_CHECKING:
    from stack.topology import Topology

LOAD_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/akto_load"
EVENTS_QUEUE = "load_rasa_events"
#: Seconds of steady load before the first fault, between faults and after the last.
STEADY, SETTLE = 15.0, 10.0


def fresh_database(url: str) -> None:
    """Drop and recreate the bench database (like ``make console-bench``): every run starts empty."""
    on_server(url, *recreate_database_statements(url))


def drop_database(url: str) -> None:
    dispose_engines()
    drop = recreate_database_statements(url)[0]
    try:
        on_server(url, drop)
    except Exception as exc:  # told, never fatal: the figures are already printed
        say(f"base {make_url(url).database} non supprimée : {type(exc).__name__}")


def topology_environment() -> str:
    """The data services of the run, from the environment or this machine's defaults; returns the database URL."""
    from stack.load.deployments import free_port

    url = os.environ.get("LOAD_POSTGRES_URL") or f"{LOAD_POSTGRES_URL}_{os.getpid()}"
    fresh_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ.setdefault("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    # Our own queue and exchange on the shared RabbitMQ; the queue (nobody consumes it here) is deleted after.
    os.environ.setdefault("RASA_EVENTS_QUEUE", f"{EVENTS_QUEUE}_{os.getpid()}")
    os.environ.setdefault("RASA_EVENTS_EXCHANGE", "load-rasa-exchange")
    os.environ["RASA_URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["ACTION_SERVER_URL"] = f"http://127.0.0.1:{free_port()}/webhook"
    from akto_data.db import dispose_engines

    dispose_engines()
    return url


def topology_run(args: argparse.Namespace) -> int:
    try:
        from stack.topology import running_topology
    except ImportError:
        say("--topology : stack/topology.py n'existe pas encore dans cet arbre (issue 14, section 3) ; "
            "rien n'a été lancé.")
        return 2
    from stack.load.__main__ import levels, long_figure, validate
    from stack.load.deployments import pids_of
    from stack.model import ensure_model
    from stack.services import StartupError

    model = ensure_model()
    url = topology_environment()
    say(f"make load sur la topologie : {args.topology} serveurs Rasa, base {make_url(url).database} "
        f"(recréée), REDIS_URL {os.environ['REDIS_URL']}, RABBITMQ_URL sur {make_url(os.environ['RABBITMQ_URL'].replace('amqp', 'http', 1)).host}")
    with tempfile.TemporaryDirectory(prefix="load-topology-") as tmp:
        try:
            with running_topology(model, rasa_servers=args.topology, log_dir=Path(tmp)) as topology:
                target = Target(f"ours (topology, {args.topology} Rasa servers)", topology.url,
                                topology.settings.rasa_auth_token, lambda: pids_of(topology.stack))
                if not asyncio.run(validate(target)):
                    return 1
                if args.faults:
                    asyncio.run(fault_run(topology, target, args.fault_chats))
                    return 0
                results = asyncio.run(levels(target, args))
                level_table(results)
                if not args.no_long:
                    asyncio.run(long_figure(target, args.long))
        except StartupError as exc:
            say(f"La topologie n'a pas démarré : {exc}")
            return 1
        finally:
            drop_events_queue(os.environ["RASA_EVENTS_QUEUE"])
            if not os.environ.get("LOAD_POSTGRES_URL"):
                drop_database(url)
    return 0


def drop_events_queue(name: str) -> None:
    """Delete the run's event queue (its events were published for nobody) when it is this machine's RabbitMQ."""
    if name != f"{EVENTS_QUEUE}_{os.getpid()}":
        return  # a queue the operator named: theirs to keep
    with suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["rabbitmqctl", "delete_queue", name], capture_output=True, timeout=60, check=False)


class Faults:
    """Breaks the topology step by step while the load runs; says which phase it is in."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.phase = "avant"
        self.done = False
        self.timeline: list[tuple[str, float]] = []

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self.timeline.append((phase, time.monotonic()))

    async def play(self) -> None:
        topology = self.topology
        self._enter("avant")
        await asyncio.sleep(STEADY)
        actions = next(s.name for s in topology.stack.services if s.name.startswith("actions"))
        steps = [
            ("rasa-1 tué (-9) et relancé", lambda: topology.restart("rasa-1", kill=True)),
            (f"{actions} relancé", lambda: topology.restart(actions, kill=False)),
            ("PostgreSQL relancé", topology.restart_postgres),
        ]
        for phase, act in steps:
            self._enter(phase)
            began = time.monotonic()
            try:
                await asyncio.to_thread(act)
            except Exception as exc:  # told, and the run goes on: the figures say what it did
                say(f"  {phase} : échec ({type(exc).__name__}: {str(exc)[:200]})")
            say(f"  {phase} : {time.monotonic() - began:.1f} s")
            await asyncio.sleep(SETTLE)
        self._enter("après")
        await asyncio.sleep(STEADY)
        self.done = True


async def fault_run(topology: Topology, target: Target, chats: int) -> LevelResult:
    faults = Faults(topology)
    say(f"\nFautes sous charge : {chats} conversations à la fois ; {STEADY:.0f} s avant, {SETTLE:.0f} s après "
        f"chaque faute, {STEADY:.0f} s à la fin")
    load = Load(target, chats, phase=lambda: faults.phase, until=lambda: faults.done)
    result, _ = await asyncio.gather(load.run(), faults.play())
    result.tally = await check_trackers(target, result.sent)
    fault_table(result, [phase for phase, _ in faults.timeline])
    return result


def fault_table(result: LevelResult, phases: list[str]) -> None:
    say(f"\n== fautes sous charge, {result.concurrency} conversations, {result.seconds:.0f} s ==")
    say(f"{'phase':34s} msgs err retries    p50    p95    max")
    for phase in phases:
        outcomes = [o for o in result.outcomes if o.phase == phase]
        answered = [o.latency_ms for o in outcomes if o.latency_ms is not None]
        errors = [o for o in outcomes if o.latency_ms is None]
        say(f"{phase:34s} {len(answered):4d} {len(errors):3d} {sum(o.retries for o in outcomes):7d} "
            f"{ms(result.latency(50, phase)):>6} {ms(result.latency(95, phase)):>6} "
            f"{ms(max(answered) if answered else float('nan')):>6}")
        for outcome in errors[:3]:
            say(f"    {outcome.step}: {outcome.error}")
        reasons = Counter(o.retried_for for o in outcomes if o.retries and o.retried_for)
        if reasons:
            say("    relances pour : " + ", ".join(f"{reason} ({count})" for reason, count in reasons.most_common(4)))
    t = result.tally
    say(f"réponses perdues {t.lost}, en double {t.duplicated}, dans le désordre {t.reordered} ; "
        f"réponses du bot perdues {t.replies_lost}, en double {t.replies_duplicated} ; "
        f"trackers illisibles {t.unreadable} ({len(result.sent)} conversations relues)")
