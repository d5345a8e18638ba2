"""Time to the results chart of an event with 1,000 feedback answers, beside `!ping`, on one local
Synapse.

    .venv/bin/python bench/feedback_results.py [--answers 1000] [--rounds 10]

A coordinator in the network's control room sends, in turn, `!ping` (timed to its Pong) and
`!results <event>` (timed to the PNG chart's arrival as an m.image, which follows the text
answer). The event, its 1,000 confirmed participants and their answers (named, random scores and
choices, a short text each) are written into the bot's database before measuring; everything
else goes through Synapse as in use. The first round of each is a warm-up (matplotlib is imported
on the first chart) and is reported apart. Each round is timed on the coordinator's side with
time.perf_counter, from the start of the send to the message coming out of its own sync.

The figures are reported, not asserted: the exit code is 0 unless the run itself broke.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import shutil
import statistics
import sys
import tempfile
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot.app import Kring, freeze_startup_objects  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.dev.synapse import LocalSynapse  # noqa: E402
from latency import PASSWORD, Member, new_user  # noqa: E402
from storage import events, feedback, networks, registrations as regs  # noqa: E402

SLUG = "bench-feedback"


async def seed(kring: Kring, count: int) -> None:
    now = datetime.now(timezone.utc)
    ended = now - timedelta(hours=3)
    rng = random.Random(19)
    async with kring.db.transaction() as s:
        event = await events.create(s, {
            "slug": SLUG, "network": "main", "title": "Theme meeting with a thousand answers",
            "purpose": "A benchmark of the feedback results.", "timezone": "Europe/Amsterdam",
            "starts_at": ended - timedelta(hours=2), "ends_at": ended, "capacity": count,
            "closes_at": ended - timedelta(hours=3), "created_by": None}, [], now)
        event.state, event.published_at = events.PUBLISHED, now
        people = [f"@person{i:04d}:bench.invalid" for i in range(count)]
        for user in people:
            await regs.put(s, event_id=event.id, workshop_id=None, user_id=user, state=regs.CONFIRMED,
                           arrived_at=now, arrival_event_id=f"$seed-{user}", now=now)
        answers = [(user, {"content": rng.randint(1, 5), "form": rng.randint(2, 5), "organisation": rng.randint(3, 5),
                           "purpose_clear": rng.randint(1, 3), "worked": f"The groups ({i})", "better": "More time"})
                   for i, user in enumerate(people)]
        await feedback.add_many(s, event.id, "default", False, answers, now)


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (f"{label:<26} p50 {statistics.median(values):8.1f} ms   p90 {p90:8.1f} ms   "
            f"mean {statistics.fmean(values):8.1f} ms   (n={len(values)})")


async def run(count: int, rounds: int, keep: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-bench-feedback-"))
    try:
        async with AsyncExitStack() as stack:
            synapse = LocalSynapse(home / "synapse")
            print(f"starting Synapse in {home} ...", file=sys.stderr)
            await synapse.start()
            stack.push_async_callback(synapse.stop)
            coordinator = Member(synapse, await new_user(synapse, "coord"), None)
            stack.push_async_callback(coordinator.close)
            await coordinator.start()
            bot_id = await new_user(synapse, "kring")
            kring = Kring(Config.validate({
                "matrix": {"homeserver": synapse.url, "user_id": bot_id, "password": PASSWORD,
                           "store_path": str(home / "kring" / "store"), "key_passphrase": "bench-passphrase",
                           "encryption": False},
                "storage": {"database_url": f"sqlite+aiosqlite:///{home / 'kring' / 'kring.db'}"},
                "bot": {"coordinators": [coordinator.user_id]},
            }))
            stack.push_async_callback(kring.stop)
            await kring.start()
            await asyncio.wait_for(kring.sync.caught_up.wait(), 60)
            async with kring.db.transaction() as s:
                control = await networks.room_id(s, "main", "control")
            while control not in coordinator.client.rooms:  # the invitation is taken by the member's sync
                await asyncio.sleep(0.1)
            print(f"writing {count} participants and answers ...", file=sys.stderr)
            await seed(kring, count)
            freeze_startup_objects()
            pings, charts = [], []
            for i in range(rounds + 1):
                ping = await coordinator.round(control, bot_id, "!ping", lambda body: body.startswith("Pong!"))
                chart = await coordinator.round(control, bot_id, f"!results {SLUG}",
                                                lambda body: body.endswith("-feedback.png"))
                chart_ms = chart.rtt_ms
                pings.append(ping.rtt_ms)
                charts.append(chart_ms)
                print(f"round {i}: ping {ping.rtt_ms:.1f} ms, chart {chart_ms:.1f} ms", file=sys.stderr)
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    print(f"\nResults of an event with {count} answers, in the control room ({rounds} rounds after 1 warm-up)")
    print(f"warm-up (first chart; matplotlib imported): chart {charts[0]:.1f} ms, ping {pings[0]:.1f} ms")
    print(summary("!ping round trip", pings[1:]))
    print(summary("!results: chart arrives", charts[1:]))
    ratio = statistics.median(charts[1:]) / statistics.median(pings[1:])
    print(f"chart p50 / ping p50: {ratio:.1f} x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=1000, help="participants and answers (default 1000)")
    parser.add_argument("--rounds", type=int, default=10, help="measured rounds after one warm-up (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.answers, args.rounds, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
