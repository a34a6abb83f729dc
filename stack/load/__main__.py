"""``make load``: throughput, latency and correctness of the assistant under concurrent chats.

Runs the same scripted conversations (:mod:`stack.load.script`) against our embedded
default, then against the standard deployment of the same model, prints one table
each, their ratio, and the long-conversation figure. ``--topology N`` runs the load on
the production topology instead, ``--faults`` breaks it during the run, ``--telegram``
goes through the bot and the Telegram emulator. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from stack.load.report import level_table, long_table, ratio_table, say
from stack.load.runner import LevelResult, Load, Target, run_level
from stack.load.script import CYCLE, SCRIPTS, long_conversation, mean_length


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,4,16,64", help="concurrent chats per level (default 1,4,16,64)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per level (default 30)")
    parser.add_argument("--conversations", type=int, default=None,
                        help="conversations per level instead of a duration")
    parser.add_argument("--no-standard", action="store_true", help="skip the standard rasa run (measured after ours in the default run; --topology and --telegram skip it)")
    parser.add_argument("--no-long", action="store_true", help="skip the long-conversation figure")
    parser.add_argument("--long", type=int, default=100, help="messages of the long conversation (default 100)")
    parser.add_argument("--topology", type=int, default=0, metavar="N",
                        help="run on the production topology with N Rasa servers (stack.topology)")
    parser.add_argument("--faults", action="store_true",
                        help="with --topology: kill and restart a Rasa server, the action server, PostgreSQL")
    parser.add_argument("--fault-chats", type=int, default=8, help="concurrent chats of the fault run (default 8)")
    parser.add_argument("--telegram", action="store_true", help="through the bot and the Telegram emulator")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--levels: des nombres séparés par des virgules, pas {args.levels!r}")
    if not args.levels or min(args.levels) < 1:
        parser.error("--levels: au moins un niveau, chacun >= 1")
    if args.faults and not args.topology:
        parser.error("--faults se lance sur la topologie : --topology 2 --faults")
    return args


async def validate(target: Target) -> bool:
    """Play every script once, alone: a script that no longer follows the dialogue stops the run."""
    ok = True
    for script in (*SCRIPTS, long_conversation(2 * len(CYCLE.steps))):  # the cycle must follow itself
        load = Load(target, 1, conversations=1, scripts=[script])
        result = await load.run()
        for outcome in result.errors:
            say(f"  le script {script.name} ne suit plus le dialogue à l'étape {outcome.step} : {outcome.error}")
            ok = False
    return ok


async def levels(target: Target, args: argparse.Namespace) -> list[LevelResult]:
    results = []
    for concurrency in args.levels:
        result = await run_level(target, concurrency, seconds=None if args.conversations else args.seconds,
                                 conversations=args.conversations)
        say(f"  {target.name}: {concurrency} chats, {result.rate:.1f} msg/s, p95 {result.latency(95):.0f} ms, "
            f"{len(result.errors)} errors (machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        results.append(result)
    return results


async def long_figure(target: Target, messages: int) -> None:
    short_len = 10
    short = await run_level(target, 1, conversations=max(1, messages // short_len),
                            scripts=[long_conversation(short_len)])
    long = await run_level(target, 1, conversations=1, scripts=[long_conversation(messages)])
    long_table(short, long, short_len)


def embedded_and_standard(args: argparse.Namespace) -> int:
    from stack.load.deployments import ours_embedded, standard
    from stack.model import ensure_model

    model = ensure_model()
    say(f"make load: {args.levels} chats, {args.conversations or args.seconds} "
        f"{'conversations' if args.conversations else 's'} per level, scripts "
        f"{', '.join(f'{s.name} ({len(s.steps)} msgs)' for s in SCRIPTS)}, mean {mean_length():.1f} msgs; "
        f"model {model.name}")
    ours: list[LevelResult] = []
    theirs: list[LevelResult] = []
    say("Démarrage de la pile embarquée (scratch SQLite)…")
    with ours_embedded(model) as target:
        if not asyncio.run(validate(target)):
            return 1
        ours = asyncio.run(levels(target, args))
        level_table(ours)
        if not args.no_long:
            asyncio.run(long_figure(target, args.long))
    if not args.no_standard:
        say("\nDémarrage du déploiement standard (rasa run + rasa_sdk par défaut)…")
        with standard(model) as target:
            if not asyncio.run(validate(target)):
                return 1
            theirs = asyncio.run(levels(target, args))
            level_table(theirs)
        level_table(ours)
        ratio_table(ours, theirs)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.telegram:
        from stack.load.telegram import telegram_run

        return telegram_run(args)
    if args.topology:
        from stack.load.faults import topology_run

        return topology_run(args)
    return embedded_and_standard(args)


if __name__ == "__main__":
    sys.exit(main())
