"""A rush of registrations: 1,000 members each send `!register` for one event with 300 seats,
all within a few seconds, on one local Synapse; beside the same burst answered by a bare echo bot.

    .venv/bin/python bench/registration_burst.py [--members 1000] [--seats 300] [--keep]

Set-up (not timed): a Synapse with its rate limits raised, the Kring bot (SQLite) and a bare nio
echo bot, each with its own account; N members registered with the shared-secret API (logged in
by that same call, no E2EE, no nio: plain HTTP), members of the bot's network who accepted the
house rules; each member opens one DM with Kring and one with the echo bot. A coordinator creates
and publishes the event with the real commands.

Each burst: every member sends one message into its DM, all at once (at most 100 HTTP requests in
flight). Kring gets `!register <event>`; the echo bot gets the same text and answers each message
with an m.notice, from a task per message and with 8 sends in flight (Kring's outbox drains 8
rooms in parallel too), i.e. the best a bare bot does. The echo burst runs before and after Kring's;
the ratio uses their mean. Before each burst the script waits until the homeserver's CPU has been
idle for two seconds, so that its background work after the set-up (2,000 new rooms) or after the
previous burst falls into none of them.

Measured from the server's own timestamps (origin_server_ts), read back with /messages after the
burst: the spread of the burst's messages, and the time from the first message to the last reply.
Checked: replies received per member, seats confirmed (database and replies), that the waiting list
is in arrival order (server timestamp, then event id), how many of the seats went to the first
arrivals, and how many members were told the waiting-list position they finally hold.
The figures are reported against the targets, not asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import nio  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot.app import Kring, freeze_startup_objects  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.dev.synapse import LocalSynapse  # noqa: E402
from bot.matrix.gateway import SYNC_FILTER  # noqa: E402
from storage import confirmations, events, members, networks, outbox, registrations  # noqa: E402
from storage.models import DirectRoom, ProcessedEvent  # noqa: E402

PASSWORD = "bench-password-1"
SLUG = "burst-test-2031"
IN_FLIGHT = 100
TARGET_RATIO = 1.2
TARGET_SPREAD_S = 5.0


@dataclass
class Person:
    user_id: str
    token: str
    kring_room: str = ""
    echo_room: str = ""


@dataclass
class Burst:
    name: str
    sent_at: dict[str, tuple[int, str]] = field(default_factory=dict)  # user -> (server ts, event id)
    reply_at: dict[str, int] = field(default_factory=dict)  # user -> server ts of the first answer
    reply_body: dict[str, str] = field(default_factory=dict)
    file_at: dict[str, int] = field(default_factory=dict)  # user -> server ts of a file sent after the answer
    client_seconds: float = 0.0

    @property
    def first(self) -> int:
        return min(ts for ts, _ in self.sent_at.values())

    def spread_ms(self) -> int:
        return max(ts for ts, _ in self.sent_at.values()) - self.first

    def last_reply_ms(self) -> int:
        return max(self.reply_at.values()) - self.first if self.reply_at else -1


# ---- plain HTTP members ------------------------------------------------------------------------
class Http:
    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT),
                                             timeout=aiohttp.ClientTimeout(total=300))

    async def call(self, method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
        for attempt in range(20):
            async with self.session.request(method, self.base + path, json=body,
                                            headers={"Authorization": f"Bearer {token}"}) as resp:
                data = await resp.json(content_type=None) or {}
                if resp.status == 429:
                    await asyncio.sleep(data.get("retry_after_ms", 500) / 1000)
                    continue
                if resp.status != 200:
                    raise RuntimeError(f"{method} {path} -> {resp.status} {data}")
                return data
        raise RuntimeError(f"{method} {path}: still rate limited")

    async def dm(self, person: Person, other: str) -> str:
        body = {"is_direct": True, "invite": [other], "preset": "trusted_private_chat"}
        return (await self.call("POST", "/_matrix/client/v3/createRoom", person.token, body))["room_id"]

    async def send(self, person: Person, room: str, text: str) -> str:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{uuid.uuid4().hex}"
        return (await self.call("PUT", path, person.token, {"msgtype": "m.text", "body": text}))["event_id"]

    async def recent(self, person: Person, room: str) -> list[dict[str, Any]]:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=30"
        return (await self.call("GET", path, person.token))["chunk"]

    async def close(self) -> None:
        await self.session.close()


async def until_quiet(synapse: LocalSynapse, *, below: float = 0.05, for_s: float = 2.0, timeout: float = 300) -> float:
    """Wait until the homeserver has used less than `below` of a core for `for_s` seconds: the work
    it goes on doing by itself after the set-up or the previous burst is done and falls into no
    burst. Returns the seconds waited."""
    stat = Path(f"/proc/{synapse.pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    started = last_at = time.monotonic()
    last, quiet_since = cpu_seconds(), None
    while time.monotonic() - started < timeout:
        await asyncio.sleep(0.5)
        now, used = time.monotonic(), cpu_seconds()
        busy = (used - last) / (now - last_at)
        last, last_at = used, now
        quiet_since = (quiet_since or now) if busy < below else None
        if quiet_since is not None and now - quiet_since >= for_s:
            break
    return time.monotonic() - started


async def gather_limited(coros: list, limit: int = 16) -> list:  # noqa: ANN001
    gate = asyncio.Semaphore(limit)

    async def one(c):  # noqa: ANN001, ANN202
        async with gate:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


# ---- the bare echo bot ------------------------------------------------------------------------
class EchoBot:
    """A bare nio bot: joins every invite and answers each text message with an m.notice."""

    def __init__(self, synapse: LocalSynapse, user_id: str) -> None:
        config = nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
        self.client = nio.AsyncClient(synapse.url, user_id, config=config)
        self.joined: set[str] = set()
        self.replies = 0
        self._sends = asyncio.Semaphore(8)
        self._tasks: set[asyncio.Task] = set()
        self._sync: asyncio.Task | None = None
        self.client.add_event_callback(self._on_text, nio.RoomMessageText)
        self.client.add_event_callback(self._on_invite, nio.InviteMemberEvent)

    async def start(self) -> None:
        resp = await self.client.login(PASSWORD, device_name="echo")
        assert isinstance(resp, nio.LoginResponse), resp
        flt = await self.client.upload_filter(**SYNC_FILTER)
        await self.client.sync(timeout=0, full_state=True, sync_filter=flt.filter_id)
        self._sync = asyncio.create_task(self.client.sync_forever(timeout=30_000, sync_filter=flt.filter_id))

    async def _on_invite(self, room: nio.MatrixRoom, event: nio.InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite" and room.room_id not in self.joined:
            if isinstance(await self.client.join(room.room_id), nio.JoinResponse):
                self.joined.add(room.room_id)

    async def _on_text(self, room: nio.MatrixRoom, event: nio.RoomMessageText) -> None:
        if event.sender == self.client.user_id:
            return
        task = asyncio.create_task(self._answer(room.room_id, event.body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, room_id: str, body: str) -> None:
        async with self._sends:
            await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.notice", "body": "echo: " + body})
        self.replies += 1

    async def close(self) -> None:
        if self._sync:
            self._sync.cancel()
            await asyncio.gather(self._sync, return_exceptions=True)
        await self.client.close()


# ---- set-up -------------------------------------------------------------------------------------
async def new_account(synapse: LocalSynapse, localpart: str) -> Person:
    body = await synapse._register(localpart, PASSWORD, admin=False, displayname=None, login=True)
    return Person(body["user_id"], body.get("access_token") or await synapse.login(localpart, PASSWORD))


async def wait_until(check, what: str, timeout: float = 600) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def bot_config(synapse: LocalSynapse, home: Path, user_id: str, coordinator: str) -> Config:
    return Config.validate({
        "matrix": {"homeserver": synapse.url, "user_id": user_id, "password": PASSWORD,
                   "store_path": str(home / "store"), "encryption": False},
        "storage": {"database_url": f"sqlite+aiosqlite:///{home / 'kring.db'}"},
        "bot": {"coordinators": [coordinator], "timezone": "Europe/Amsterdam"},
    })


async def set_up(synapse: LocalSynapse, http: Http, home: Path, n: int, seats: int) -> tuple[Kring, EchoBot, list[Person]]:
    started = time.monotonic()
    kring_id = (await new_account(synapse, "kring")).user_id
    echo = EchoBot(synapse, (await new_account(synapse, "echo")).user_id)
    coordinator = await new_account(synapse, "carol")
    kring = Kring(bot_config(synapse, home / "kring", kring_id, coordinator.user_id))
    await kring.start()
    await asyncio.wait_for(kring.sync.caught_up.wait(), 120)
    await echo.start()
    people = await gather_limited([new_account(synapse, f"m{i:04d}") for i in range(n)])
    print(f"  {n} members registered ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    async with kring.db.transaction() as session:
        net = await networks.get(session, "main")
        for p in people:
            row = await members.set_role(session, "main", p.user_id, "member", kring.clock())
            members.accept_rules(row, net.rules_version, kring.clock())

    async def rooms(p: Person) -> None:
        p.kring_room = await http.dm(p, kring_id)
        p.echo_room = await http.dm(p, echo.client.user_id)

    await gather_limited([rooms(p) for p in people], 8)
    coordinator.kring_room = await http.dm(coordinator, kring_id)

    async def all_joined() -> bool:
        async with kring.db.transaction() as session:
            count = (await session.execute(select(func.count()).select_from(DirectRoom))).scalar_one()
        return count >= n + 1 and len(echo.joined) >= n

    await wait_until(all_joined, "both bots to join every DM")
    print(f"  {2 * n + 1} DMs open and joined ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    form = (f"!event create\ntitle: Burst test\npurpose: See whether registration survives a rush of a thousand.\n"
            f"starts: 2031-06-01 19:00\nends: 21:00\ncapacity: {seats}\nwaitlist mode: offer")
    await http.send(coordinator, coordinator.kring_room, form)

    async def created() -> bool:
        async with kring.db.transaction() as session:
            return await events.by_slug(session, SLUG) is not None

    await wait_until(created, "the event to be created", 60)
    await http.send(coordinator, coordinator.kring_room, f"!event publish {SLUG}")

    async def asked() -> bool:  # publishing asks for !confirm first
        async with kring.db.transaction() as session:
            return await confirmations.current(session, coordinator.user_id, coordinator.kring_room) is not None

    await wait_until(asked, "the bot to ask for confirmation", 60)
    await http.send(coordinator, coordinator.kring_room, "!confirm")

    async def published() -> bool:
        async with kring.db.transaction() as session:
            e = await events.by_slug(session, SLUG)
            return e is not None and e.state == events.PUBLISHED

    await wait_until(published, "the event to be published", 60)
    return kring, echo, people


# ---- a burst ------------------------------------------------------------------------------------
async def burst(http: Http, people: list[Person], name: str, text: str, room_of, done) -> Burst:  # noqa: ANN001
    result = Burst(name)
    t0 = time.perf_counter()
    ids = await asyncio.gather(*(http.send(p, room_of(p), text) for p in people))
    result.client_seconds = time.perf_counter() - t0
    await wait_until(lambda: done(set(ids)), f"{name} to answer everyone", 900)
    await collect(http, people, result, room_of, dict(zip((p.user_id for p in people), ids)))
    return result


async def collect(http: Http, people: list[Person], result: Burst, room_of, sent: dict[str, str]) -> None:  # noqa: ANN001
    async def one(p: Person) -> None:
        chunk = sorted(await http.recent(p, room_of(p)), key=lambda e: e["origin_server_ts"])
        mine = next(e for e in chunk if e["event_id"] == sent[p.user_id])
        result.sent_at[p.user_id] = (mine["origin_server_ts"], mine["event_id"])
        later = chunk[chunk.index(mine) + 1:]
        answer = next((e for e in later if e["sender"] != p.user_id and e["type"] == "m.room.message"
                       and e["content"].get("msgtype") == "m.notice"), None)
        if answer:
            result.reply_at[p.user_id] = answer["origin_server_ts"]
            result.reply_body[p.user_id] = answer["content"].get("body", "")
        attached = next((e for e in later if e["sender"] != p.user_id and e["type"] == "m.room.message"
                         and e["content"].get("msgtype") == "m.file"), None)
        if attached:
            result.file_at[p.user_id] = attached["origin_server_ts"]

    await gather_limited([one(p) for p in people], 32)


def kring_done(kring: Kring):  # noqa: ANN201
    async def check(ids: set[str]) -> bool:
        async with kring.db.read() as session:  # no write lock taken from the bot while it works
            handled = (await session.execute(select(func.count()).select_from(ProcessedEvent)
                                             .where(ProcessedEvent.event_id.in_(ids)))).scalar_one()
            return handled == len(ids) and await outbox.count_pending(session) == 0
    return check


async def seat_check(kring: Kring, result: Burst, seats: int) -> dict[str, Any]:
    async with kring.db.transaction() as session:
        event = await events.by_slug(session, SLUG)
        confirmed = {r.user_id for r in await registrations.of_event(session, event.id, [registrations.CONFIRMED])}
        waiting = [r.user_id for r in await registrations.waiting(session, event.id, 0)]
        rows = (await session.execute(select(func.count()).select_from(registrations.Registration)
                                      .where(registrations.Registration.event_id == event.id))).scalar_one()
    arrival = sorted(result.sent_at, key=lambda u: result.sent_at[u])
    told = {u: b for u, b in result.reply_body.items()}
    told_seat = {u for u, b in told.items() if b.startswith("You are registered")}
    told_pos = {u: int(b.split("waiting list: number ")[1].split(".")[0]) for u, b in told.items()
                if "waiting list: number " in b}
    final_pos = {u: i for i, u in enumerate(waiting, start=1)}
    return {
        "rows": rows, "confirmed_db": len(confirmed), "confirmed_told": len(told_seat),
        "waiting_db": len(waiting), "told_match_db": told_seat == confirmed,
        "waitlist_in_arrival_order": waiting == [u for u in arrival if u in set(waiting)],
        "seats_to_first_arrivals": len(confirmed & set(arrival[:seats])),
        "positions_told_still_right": sum(1 for u, pos in told_pos.items() if final_pos.get(u) == pos),
        "positions_told": len(told_pos),
    }


# ---- report -------------------------------------------------------------------------------------
def report(n: int, seats: int, bursts: list[Burst], checks: dict[str, Any], elapsed: float) -> None:
    kring = next(b for b in bursts if b.name == "kring")
    echoes = [b for b in bursts if b.name.startswith("echo")]
    alone = next(b for b in bursts if b.name == "homeserver alone")
    echo_last = statistics.fmean(b.last_reply_ms() for b in echoes)
    print(f"\nRegistration burst: {n} members, {seats} seats, one Synapse, wall time {elapsed:.0f} s")
    print(f"{'':<16} {'sent in (client)':>16} {'spread (server)':>16} {'replies':>10} {'last reply':>11}")
    for b in bursts:
        last = f"{b.last_reply_ms() / 1000:10.2f}s" if b.reply_at else f"{'-':>11}"
        print(f"{b.name:<16} {b.client_seconds:15.2f}s {b.spread_ms() / 1000:15.2f}s "
              f"{len(b.reply_at):>5}/{n:<4} {last}")
    ratio = kring.last_reply_ms() / echo_last
    ok = lambda good: "met" if good else "MISSED"  # noqa: E731
    print(f"\nburst spread {kring.spread_ms() / 1000:.2f} s (target <= {TARGET_SPREAD_S:.0f} s: "
          f"{ok(kring.spread_ms() / 1000 <= TARGET_SPREAD_S)}); with no bot reading, this homeserver took in "
          f"the same {n} messages in {alone.client_seconds:.2f} s ({n / alone.client_seconds:.0f}/s)")
    print(f"replies received       {len(kring.reply_at)}/{n} ({ok(len(kring.reply_at) == n)})")
    print(f"confirmed              {checks['confirmed_db']} in the database, {checks['confirmed_told']} told so "
          f"(target exactly {seats}: {ok(checks['confirmed_db'] == seats == checks['confirmed_told'])}); "
          f"the same people: {checks['told_match_db']}")
    print(f"waiting list           {checks['waiting_db']} waiting, in arrival order: "
          f"{checks['waitlist_in_arrival_order']}; registrations stored: {checks['rows']} (one per member)")
    print(f"seats to the first {seats} arrivals: {checks['seats_to_first_arrivals']}; waiting-list position told "
          f"and still held: {checks['positions_told_still_right']}/{checks['positions_told']}")
    if kring.file_at:
        print(f"calendar files         {len(kring.file_at)} received (one per confirmed member), the last "
              f"{(max(kring.file_at.values()) - kring.first) / 1000:.2f} s after the first message "
              f"(sent once the answers waiting in other rooms are out)")
    print(f"time to the last reply kring {kring.last_reply_ms() / 1000:.2f} s, echo {echo_last / 1000:.2f} s "
          f"(mean of {len(echoes)}); ratio {ratio:.2f} (target <= {TARGET_RATIO}: {ok(ratio <= TARGET_RATIO)})")


async def run(n: int, seats: int, keep: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-burst-"))
    synapse = LocalSynapse(home / "synapse")
    kring = echo = http = None
    started = time.monotonic()
    try:
        print(f"starting Synapse in {home} ...", file=sys.stderr)
        await synapse.start()
        http = Http(synapse.url)
        kring, echo, people = await set_up(synapse, http, home, n, seats)
        freeze_startup_objects()  # as a running bot does (Kring.run_tasks)
        text = f"!register {SLUG}"
        bursts = []
        for name in ("echo before", "kring", "echo after"):
            waited = await until_quiet(synapse)
            print(f"  burst: {name} (homeserver quiet after {waited:.0f} s) ...", file=sys.stderr)
            if name == "kring":
                check = kring_done(kring)
                bursts.append(await burst(http, people, name, text, lambda p: p.kring_room, check))
            else:
                before = echo.replies
                bursts.append(await burst(http, people, name, text, lambda p: p.echo_room,
                                          lambda ids, b=before: _true(echo.replies >= b + n)))
        checks = await seat_check(kring, bursts[1], seats)
        # The homeserver alone: the same burst with no bot reading (the echo bot is stopped), to
        # show how fast this Synapse takes in messages at all, whoever answers them.
        await echo.close()
        echo = None
        waited = await until_quiet(synapse)
        print(f"  burst: homeserver alone (homeserver quiet after {waited:.0f} s) ...", file=sys.stderr)
        alone = Burst("homeserver alone")
        t0 = time.perf_counter()
        ids = await asyncio.gather(*(http.send(p, p.echo_room, text) for p in people))
        alone.client_seconds = time.perf_counter() - t0
        await collect(http, people, alone, lambda p: p.echo_room, dict(zip((p.user_id for p in people), ids)))
        bursts.append(alone)
    finally:
        for closer in (echo and echo.close, kring and kring.stop, http and http.close, synapse.stop):
            if closer:
                await closer()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    report(n, seats, bursts, checks, time.monotonic() - started)


async def _true(value: bool) -> bool:
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (Synapse logs, bot db)")
    parser.add_argument("--verbose", action="store_true", help="show warnings from the bot and nio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args.members, args.seats, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
