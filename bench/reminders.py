"""Reminders under load: R pending event reminders for N members, due evenly over a window; the
bot is killed with kill -9 and restarted while they fire. Beside it in the same run, a bare nio
script sends the same messages to the same members at the same due times (the homeserver's floor).

    .venv/bin/python bench/reminders.py [--members 500] [--reminders 10000] [--window 600] [--kill-at 0.4]

Set-up (not timed): a local Synapse; the Kring bot as a process of its own (SQLite, no E2EE), a
bare sender account, N members (plain HTTP) each with a DM with Kring and one with the bare sender.
Kring is stopped, the N people made members of its network (Kring started once more until it has
invited them to the network's rooms, so those invites do not fall in the window) and stopped again;
the event, its N confirmed registrations and the R schedule rows (kind
reminders.event, member i gets reminder k = 1, 2, ... "in k minutes") are written to its database,
and Kring is started again: that start is the start-up time with R rows. At `kill-at` of the
window Kring gets SIGKILL and is started again at once.

Reported: delivered (target R), duplicates (target 0), p50/p99 of due time -> origin_server_ts for
Kring and the bare script, counting for Kring only reminders due outside the restart gap (from the
kill to ready again), their ratio (target <= 1.2, and p99 < 1 s where the script's is), start-up
times, and peak RSS (VmHWM) of each Kring process.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import nio  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.dev.synapse import LocalSynapse  # noqa: E402
from footprint import login  # noqa: E402
from procs import cpu_seconds, kring_process, memory_mib  # noqa: E402
from registration_burst import PASSWORD, Http, Person, gather_limited, new_account, wait_until  # noqa: E402
from storage import events, members, registrations  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.models import DirectRoom, OutboxItem, ScheduledAction  # noqa: E402

LEAD = re.compile(r"begins in (\d+|a) minutes?")  # Kring writes "in a minute" for k = 1
IN_FLIGHT = 8  # the bare script sends like Kring's outbox: 8 rooms at a time


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def make_members(db_url: str, people: list[Person]) -> None:
    """The N people become members of the network (the bot invites them to its rooms when it starts)."""
    db = Database(db_url)
    now = datetime.now(timezone.utc)
    async with db.transaction() as s:
        for p in people:
            await members.set_role(s, "main", p.user_id, "member", now)
    await db.close()


async def seed(db_url: str, people: list[Person], count: int, start: datetime, window: float) -> list[tuple[datetime, str, int]]:
    """The event, N confirmed seats and R schedule rows; returns (due, user, k) of each."""
    db = Database(db_url)
    plan = []
    now = datetime.now(timezone.utc)
    async with db.transaction() as s:
        event = await events.create(s, {
            "slug": "bench-reminders-2031", "network": "main", "title": "Bench day", "purpose": "Reminders under load.",
            "timezone": "Europe/Amsterdam", "starts_at": now + timedelta(days=30), "ends_at": now + timedelta(days=30, hours=2),
            "place": "Online", "capacity": len(people), "closes_at": now + timedelta(days=29), "reminder_offsets": "",
        }, [], now)
        event.state, event.published_at = events.PUBLISHED, now
        for i, p in enumerate(people):
            await registrations.put(s, event_id=event.id, workshop_id=None, user_id=p.user_id, state=registrations.CONFIRMED,
                                    arrived_at=now, arrival_event_id=f"$bench{i}", now=now)
        for j in range(count):
            p, k = people[j % len(people)], j // len(people) + 1
            due = start + timedelta(seconds=window * j / count)
            s.add(ScheduledAction(key=f"bench:{j}", kind="reminders.event", due_at=due, created_at=now, network="main",
                                  recipient=p.user_id, payload={"event_id": event.id, "user": p.user_id, "offset": k,
                                                                "title": "Bench day"}))
            plan.append((due, p.user_id, k))
    await db.close()
    return plan


async def bare_sender(url: str, user_id: str, device: str, token: str, plan, rooms: dict[str, str]) -> None:  # noqa: ANN001
    client = nio.AsyncClient(url, user_id, device, config=nio.AsyncClientConfig(encryption_enabled=False))
    client.access_token = token
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(due: datetime, user: str, k: int) -> None:
        async with slots:
            await client.room_send(rooms[user], "m.room.message", {"msgtype": "m.text", "body": f"Reminder: Bench day begins in {k} minutes."})

    tasks = []
    for due, user, k in sorted(plan):
        delay = (due - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, user, k)))
    await asyncio.gather(*tasks)
    await client.close()


async def arrivals(http: Http, person: Person, room: str, sender: str) -> list[tuple[int, int]]:
    """(k, origin_server_ts) of every reminder `sender` sent in the room."""
    out, token = [], ""
    while True:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=200" + (f"&from={quote(token)}" if token else "")
        data = await http.call("GET", path, person.token)
        for ev in data["chunk"]:
            found = LEAD.search(ev.get("content", {}).get("body", "")) if ev.get("sender") == sender else None
            if found:
                out.append((1 if found.group(1) == "a" else int(found.group(1)), ev["origin_server_ts"]))
        token = data.get("end", "")
        if not data["chunk"] or not token:
            return out


async def run(n: int, count: int, window: float, kill_at: float, keep: bool, profile: Path | None = None) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-reminders-"))
    synapse = LocalSynapse(home / "synapse")
    http = kring = None
    rss: dict[str, float] = {}
    try:
        print(f"starting Synapse in {home} ...", file=sys.stderr)
        await synapse.start()
        http = Http(synapse.url)
        kring_id = (await new_account(synapse, "kring")).user_id
        bare_id, bare_device, bare_token = await login(synapse, "bare")
        bare = Person(bare_id, bare_token)
        people = await gather_limited([new_account(synapse, f"m{i:04d}") for i in range(n)])
        kring = kring_process(home / "kring", synapse.url, kring_id, PASSWORD, [], encryption=False)
        await kring.start()
        bare_rooms: dict[str, str] = {}

        async def rooms(p: Person) -> None:
            p.kring_room = await http.dm(p, kring_id)
            p.echo_room = bare_rooms[p.user_id] = await http.dm(p, bare_id)
            await http.call("POST", f"/_matrix/client/v3/join/{quote(p.echo_room)}", bare.token, {})

        await gather_limited([rooms(p) for p in people], 8)
        db_url = f"sqlite+aiosqlite:///{home / 'kring' / 'kring.db'}"
        db = Database(db_url)

        async def all_joined() -> bool:
            async with db.transaction() as s:
                return (await s.execute(select(func.count()).select_from(DirectRoom))).scalar_one() >= n

        await wait_until(all_joined, "Kring to join every DM")
        await kring.stop()
        await make_members(db_url, people)  # the invites to the network's rooms go out now, not while firing
        await kring.start()

        async def outbox_empty() -> bool:
            async with db.transaction() as s:
                return (await s.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.done_at.is_(None)))).scalar_one() == 0

        await wait_until(outbox_empty, "Kring to invite the members to the network's rooms", 900)
        await kring.stop()
        start = datetime.now(timezone.utc) + timedelta(seconds=45)
        plan = await seed(db_url, people, count, start, window)
        print(f"  {count} reminders seeded, due from {start:%H:%M:%S} over {window:.0f} s", file=sys.stderr)
        startup = await kring.start()
        rss["first"] = memory_mib(kring.pid)[1]
        load_before = os.getloadavg()
        cpu = {"synapse": cpu_seconds(synapse.pid), "kring": kring.cpu(), "wall": time.monotonic()}
        bare_task = asyncio.create_task(bare_sender(synapse.url, bare_id, bare_device, bare_token, plan, bare_rooms))
        kill_time = start + timedelta(seconds=window * kill_at)
        while datetime.now(timezone.utc) < kill_time:
            rss["first"] = max(rss["first"], memory_mib(kring.pid)[1])
            await asyncio.sleep(0.5)
        cpu["kring"] = kring.cpu() - cpu["kring"]  # the first process's share, read before it dies
        kring.proc.send_signal(signal.SIGKILL)
        await kring.proc.wait()
        killed = datetime.now(timezone.utc)
        kring.ready_after = None
        kring._ready = asyncio.Event()
        if profile is not None:  # the process after the restart, written when it stops
            kring.argv[1:1] = ["-m", "cProfile", "-o", str(profile)]
        restart = await kring.start()
        ready = datetime.now(timezone.utc)
        cpu["restarted"] = kring.cpu()
        rss["after restart"] = memory_mib(kring.pid)[1]

        async def drained() -> bool:
            rss["after restart"] = max(rss["after restart"], memory_mib(kring.pid)[1])
            async with db.transaction() as s:
                left = (await s.execute(select(func.count()).select_from(ScheduledAction).where(
                    ScheduledAction.done_at.is_(None), ScheduledAction.kind == "reminders.event"))).scalar_one()
                unsent = (await s.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.done_at.is_(None)))).scalar_one()
            return left == 0 and unsent == 0

        await wait_until(drained, "Kring to send every reminder", window + 900)
        await bare_task
        wall = time.monotonic() - cpu["wall"]
        hs_cpu, kring_cpu = cpu_seconds(synapse.pid) - cpu["synapse"], cpu["kring"] + kring.cpu() - cpu["restarted"]
        load_after = os.getloadavg()
        await db.close()
        due = {(u, k): d for d, u, k in plan}
        kring_delays, bare_delays, seen = [], [], {}
        kring_by: dict[tuple[str, int], float] = {}  # (member, k) -> delay, for the seconds after the restart
        bare_by: dict[tuple[str, int], float] = {}
        slices: dict[int, tuple[list[float], list[float]]] = {}  # minute of the window -> delays (kring, bare)
        first_due = min(d for d, _u, _k in plan)
        steady_kring, steady_bare = [], []  # due before the kill: the steady state
        gap = (killed - timedelta(seconds=1), ready)
        for p in people:
            for k, ts in await arrivals(http, p, p.kring_room, kring_id):
                seen[(p.user_id, k)] = seen.get((p.user_id, k), 0) + 1
                d = due.get((p.user_id, k))
                if d is not None:
                    kring_by[(p.user_id, k)] = ts / 1000 - d.timestamp()
                if d is not None and not gap[0] <= d <= gap[1]:
                    kring_delays.append(ts / 1000 - d.timestamp())
                    slices.setdefault(int((d - first_due).total_seconds() // 60), ([], []))[0].append(ts / 1000 - d.timestamp())
                if d is not None and d < killed:
                    steady_kring.append(ts / 1000 - d.timestamp())
            for k, ts in await arrivals(http, p, p.echo_room, bare_id):
                d = due.get((p.user_id, k))
                if d is not None:
                    bare_by[(p.user_id, k)] = ts / 1000 - d.timestamp()
                    bare_delays.append(ts / 1000 - d.timestamp())
                    slices.setdefault(int((d - first_due).total_seconds() // 60), ([], []))[1].append(ts / 1000 - d.timestamp())
                if d is not None and d < killed:
                    steady_bare.append(ts / 1000 - d.timestamp())
        delivered = sum(1 for key in due if key in seen)
        duplicates = sum(v - 1 for v in seen.values() if v > 1)
        k50, k99 = percentile(kring_delays, 0.5), percentile(kring_delays, 0.99)
        b50, b99 = percentile(bare_delays, 0.5), percentile(bare_delays, 0.99)
        print(f"\nreminders: {count} for {n} members over {window:.0f} s; kill -9 at {kill_at:.0%} of the window")
        print(f"  delivered            {delivered} of {count}  (target {count})")
        print(f"  duplicates           {duplicates}  (target 0)")
        print(f"  restart gap          {(ready - killed).total_seconds():.1f} s (kill -9 to ready); "
              f"{sum(1 for d, _u, _k in plan if gap[0] <= d <= gap[1])} reminders due in it, left out of the delays")
        print(f"  delay p50 / p99      kring {k50:.3f} / {k99:.3f} s   bare nio {b50:.3f} / {b99:.3f} s   "
              f"ratio {k50 / b50 if b50 > 0 else float('nan'):.2f} / {k99 / b99 if b99 > 0 else float('nan'):.2f}  (target <= 1.2; p99 < 1 s)")
        s50, s99, t50, t99 = (percentile(steady_kring, 0.5), percentile(steady_kring, 0.99),
                              percentile(steady_bare, 0.5), percentile(steady_bare, 0.99))
        print(f"  before the kill      kring {s50:.3f} / {s99:.3f} s   bare nio {t50:.3f} / {t99:.3f} s  (p50 / p99, due before the kill)")
        print(f"  per minute of the window, p50 / p99 (s): the kill at minute {(killed - first_due).total_seconds() / 60:.1f}")
        for minute, (ks, bs) in sorted(slices.items()):
            print(f"    {minute:3d}  kring {percentile(ks, 0.5):7.3f} / {percentile(ks, 0.99):7.3f}   "
                  f"bare nio {percentile(bs, 0.5):7.3f} / {percentile(bs, 0.99):7.3f}")
        print("  due in the 10 s after ready again, per second (n, kring p50 / max, bare nio p50 / max, s):")
        for second in range(10):
            lo, hi = ready + timedelta(seconds=second), ready + timedelta(seconds=second + 1)
            ks = [v for (u, k), v in kring_by.items() if lo <= due[(u, k)] < hi]
            bs = [v for (u, k), v in bare_by.items() if lo <= due[(u, k)] < hi]
            print(f"    +{second}s  {len(ks):3d}  kring {percentile(ks, 0.5):7.3f} / {max(ks, default=float('nan')):7.3f}   "
                  f"bare nio {percentile(bs, 0.5):7.3f} / {max(bs, default=float('nan')):7.3f}")
        worst = sorted(((v, key) for key, v in kring_by.items() if not gap[0] <= due[key] <= gap[1]), reverse=True)[:15]
        print("  Kring's 15 longest delays outside the gap: due (s from ready again), delay, bare nio's delay (s)")
        print("    " + "  ".join(f"{(due[key] - ready).total_seconds():+.1f}:{v:.2f}/{bare_by.get(key, float('nan')):.2f}"
                              for v, key in worst))
        print(f"  start-up             {startup:.1f} s with {count} rows pending; {restart:.1f} s after the kill")
        print(f"  peak RSS (VmHWM)     {rss['first']:.0f} MiB first process, {rss['after restart']:.0f} MiB after the restart")
        print(f"  CPU while firing     homeserver {hs_cpu:.0f} s, Kring {kring_cpu:.0f} s over {wall:.0f} s "
              f"({hs_cpu / wall:.2f} / {kring_cpu / wall:.2f} of a core; the machine has {os.cpu_count()})")
        print(f"  load average         {' '.join(f'{x:.2f}' for x in load_before)} at the start, "
              f"{' '.join(f'{x:.2f}' for x in load_after)} at the end (1, 5, 15 min)")
    finally:
        if kring is not None:
            await kring.stop()
        if http is not None:
            await http.close()
        await synapse.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=600, help="seconds over which the reminders fall due")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction of the window at which kill -9 lands")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", type=Path, help="cProfile output of the process after the restart")
    a = parser.parse_args()
    asyncio.run(run(a.members, a.reminders, a.window, a.kill_at, a.keep, a.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
