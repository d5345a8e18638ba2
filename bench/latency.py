"""Round-trip latency of Kring's `!ping` beside a bare nio echo, on one local Synapse.

    .venv/bin/python bench/latency.py [--rounds 500] [--warmup 10]

Three scenarios on the same Synapse (rate limits raised), all set up before measuring, one request
in flight at a time, warm-up rounds discarded. By default the rounds are interleaved (round i of
each scenario, then round i+1), so a change in the machine's load touches all three alike; --blocks
runs each scenario's rounds back to back. Either way a round ends only when its responder is idle
again: its own answer has come back to it through its sync and it has started its next long poll
(SyncWatch). Without that, what a responder does after answering would fall into the next round,
i.e. onto another scenario:

  echo             a member sends "ping N" to a plain nio client that answers at once with an
                   m.notice from its sync callback: the floor any bot on this server can reach;
  kring plain      the same member sends `!ping` to the real bot in an unencrypted DM;
  kring encrypted  an E2EE member sends `!ping` to the bot in an encrypted DM.

A round is timed on the member's side with time.perf_counter, from the start of the send to the
moment the answer comes out of the member's own long-poll sync. Every client (member, echo
responder, bot) long-polls /sync with a 30 s timeout and the bot's sync filter, so the only
difference between echo and kring is what happens inside the responder.

"turnaround" is the responder's share as Synapse saw it: origin_server_ts of the answer minus that
of the request (whole milliseconds, server clock). The rest of a round trip is the member's send
and the delivery of the answer to the member's sync.

The figures are reported against the targets, not asserted: the exit code is 0 unless the run
itself broke.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nio  # noqa: E402

from bot.app import Kring, freeze_startup_objects  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.dev.synapse import LocalSynapse  # noqa: E402
from bot.matrix.gateway import SYNC_FILTER  # noqa: E402

PASSWORD = "bench-password-1"
SYNC_TIMEOUT_MS = 30_000  # what the bot's sync loop uses
REPLY_TIMEOUT = 30.0
TARGET_PLAIN = 1.10  # kring plain <= 1.10 x echo, at p50 and p99
TARGET_ENCRYPTED = 1.15  # kring encrypted <= 1.15 x kring plain, at p50


# ---- clients -----------------------------------------------------------------------------------
class Client:
    """A nio client that long-polls /sync with the bot's filter and hands messages to a callback."""

    def __init__(self, synapse: LocalSynapse, user_id: str, store: Path | None) -> None:
        config = nio.AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False)
        if store:
            store.mkdir(parents=True, exist_ok=True)
        self.client = nio.AsyncClient(synapse.url, user_id, store_path=str(store or ""), config=config)
        self._task: asyncio.Task | None = None
        self._joined: dict[tuple[str, str], asyncio.Event] = {}
        self.undecryptable = 0
        self.client.add_event_callback(self._on_event, (nio.RoomMessage, nio.MegolmEvent))
        self.client.add_event_callback(self._on_member, nio.RoomMemberEvent)
        self.client.add_event_callback(self._on_invite, nio.InviteMemberEvent)

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def start(self) -> None:
        resp = await self.client.login(PASSWORD, device_name="latency bench")
        if not isinstance(resp, nio.LoginResponse):
            raise RuntimeError(f"login failed for {self.user_id}: {resp}")
        flt = await self.client.upload_filter(**SYNC_FILTER)
        if not isinstance(flt, nio.UploadFilterResponse):
            raise RuntimeError(f"filter upload failed: {flt}")
        await self.client.sync(timeout=0, full_state=True, sync_filter=flt.filter_id)
        if self.client.olm and self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.create_task(
            self.client.sync_forever(timeout=SYNC_TIMEOUT_MS, sync_filter=flt.filter_id), name=f"sync {self.user_id}"
        )

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def on_message(self, room: nio.MatrixRoom, event: Any, seen_at: float) -> None:
        """Override: a message (already decrypted) from someone else."""

    async def _on_event(self, room: nio.MatrixRoom, event: Any) -> None:
        seen_at = time.perf_counter()
        if isinstance(event, nio.MegolmEvent):
            self.undecryptable += 1
            return
        await self.on_message(room, event, seen_at)

    def _joined_event(self, room_id: str, user_id: str) -> asyncio.Event:
        return self._joined.setdefault((room_id, user_id), asyncio.Event())

    async def _on_member(self, room: nio.MatrixRoom, event: nio.RoomMemberEvent) -> None:
        if event.membership == "join":
            self._joined_event(room.room_id, event.state_key).set()

    async def _on_invite(self, room: nio.MatrixRoom, event: nio.InviteMemberEvent) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def dm(self, other: str, *, encrypted: bool) -> str:
        """Open a DM the way a client does (is_direct invite) and wait until the other side is in."""
        initial = [nio.EnableEncryptionBuilder().as_dict()] if encrypted else []
        resp = await self.client.room_create(is_direct=True, invite=[other], initial_state=initial,
                                             preset=nio.RoomPreset.trusted_private_chat)
        if not isinstance(resp, nio.RoomCreateResponse):
            raise RuntimeError(f"room creation failed: {resp}")
        await asyncio.wait_for(self._joined_event(resp.room_id, other).wait(), REPLY_TIMEOUT)
        if encrypted:
            # Know the other side's devices before the first send, or it cannot read it.
            if self.client.should_query_keys:
                await self.client.keys_query()
            if not self.client.device_store.active_user_devices(other):
                raise RuntimeError(f"no devices known for {other}")
        return resp.room_id


class Echo(Client):
    """The baseline responder: answers every text message with an m.notice, straight from the callback."""

    async def on_message(self, room: nio.MatrixRoom, event: Any, seen_at: float) -> None:
        if event.sender == self.user_id or not isinstance(event, nio.RoomMessageText):
            return
        body = "pong" + event.body.removeprefix("ping")
        await self.client.room_send(room.room_id, "m.room.message", {"msgtype": "m.notice", "body": body},
                                    ignore_unverified_devices=True)


@dataclass
class Round:
    rtt_ms: float
    turnaround_ms: int | None
    answer_id: str = ""


class SyncWatch:
    """Knows when a responder has seen its own answer come back in its sync and gone back to its
    long poll, i.e. is idle again. Wraps the nio client's sync method, which both nio's
    sync_forever (echo) and Kring's gateway call."""

    def __init__(self, client: nio.AsyncClient) -> None:
        self._seen: set[str] = set()  # in a sync response, next poll not started yet
        self._done: set[str] = set()  # seen, and a new poll started after it
        self._waiters: dict[str, asyncio.Future] = {}
        inner = client.sync

        async def sync(*args: Any, **kwargs: Any) -> Any:
            self._poll_started()
            resp = await inner(*args, **kwargs)
            if isinstance(resp, nio.SyncResponse):
                self._seen.update(e.event_id for room in resp.rooms.join.values() for e in room.timeline.events)
            return resp

        client.sync = sync

    def _poll_started(self) -> None:
        self._done |= self._seen
        self._seen.clear()
        for event_id in [e for e in self._waiters if e in self._done]:
            self._waiters.pop(event_id).set_result(None)

    async def idle_after(self, event_id: str) -> None:
        if event_id not in self._done:
            waiter = self._waiters.setdefault(event_id, asyncio.get_running_loop().create_future())
            await asyncio.wait_for(waiter, REPLY_TIMEOUT)
        self._done.discard(event_id)


class Member(Client):
    """The measuring side: sends one request, waits for the peer's answer in this room, times it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: tuple[str, str, Callable[[str], bool], asyncio.Future] | None = None
        self._own_ts: dict[str, int] = {}
        self.stray = 0

    async def on_message(self, room: nio.MatrixRoom, event: Any, seen_at: float) -> None:
        if event.sender == self.user_id:
            self._own_ts[event.event_id] = event.server_timestamp
            return
        waiting = self._waiting
        if waiting and room.room_id == waiting[0] and event.sender == waiting[1] and not waiting[3].done():
            if waiting[2](getattr(event, "body", "")):
                waiting[3].set_result((seen_at, event))
                return
        self.stray += 1

    async def round(self, room_id: str, peer: str, body: str, expect: Callable[[str], bool]) -> Round:
        answered: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting = (room_id, peer, expect, answered)
        started = time.perf_counter()
        resp = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                           ignore_unverified_devices=True)
        if not isinstance(resp, nio.RoomSendResponse):
            raise RuntimeError(f"send failed: {resp}")
        try:
            seen_at, answer = await asyncio.wait_for(answered, REPLY_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(f"no answer from {peer} within {REPLY_TIMEOUT:.0f} s "
                               f"(undecryptable events seen: {self.undecryptable})") from None
        finally:
            self._waiting = None
        sent_ts = self._own_ts.pop(resp.event_id, None)  # our own event came in the same or an earlier sync
        turnaround = answer.server_timestamp - sent_ts if sent_ts is not None else None
        return Round((seen_at - started) * 1000, turnaround, answer.event_id)


# ---- scenarios ---------------------------------------------------------------------------------
_ids = itertools.count(1)


async def new_user(synapse: LocalSynapse, prefix: str) -> str:
    return await synapse.register_user(f"{prefix}{next(_ids)}", PASSWORD)


def bot_config(synapse: LocalSynapse, home: Path, user_id: str) -> Config:
    """As tests/integration/conftest.py BotUnderTest builds it: own account, SQLite db, store."""
    return Config.validate({
        "matrix": {"homeserver": synapse.url, "user_id": user_id, "password": PASSWORD,
                   "store_path": str(home / "store"), "key_passphrase": "bench-passphrase"},
        "storage": {"database_url": f"sqlite+aiosqlite:///{home / 'kring.db'}"},
        "bot": {"coordinators": []},
    })


@dataclass
class Scenario:
    name: str
    one: Callable[[int], Awaitable[Round]]
    member: Member
    responder: SyncWatch
    results: list[Round] = field(default_factory=list)

    async def round(self, i: int) -> Round:
        """One round, then wait until the responder is idle again, so that what it does after
        answering (taking its own answer in from sync) does not fall into the next round."""
        r = await self.one(i)
        await self.responder.idle_after(r.answer_id)
        return r


async def _member(stack: AsyncExitStack, synapse: LocalSynapse, store: Path | None) -> Member:
    member = Member(synapse, await new_user(synapse, "member"), store)
    stack.push_async_callback(member.close)
    await member.start()
    return member


async def set_up(stack: AsyncExitStack, synapse: LocalSynapse, home: Path) -> list[Scenario]:
    """The echo pair, and one Kring with a plain and an encrypted DM; all of them alive together."""
    echo = Echo(synapse, await new_user(synapse, "echo"), None)
    stack.push_async_callback(echo.close)
    await echo.start()
    member = await _member(stack, synapse, None)
    echo_room = await member.dm(echo.user_id, encrypted=False)

    def echo_round(i: int, m: Member = member) -> Awaitable[Round]:
        return m.round(echo_room, echo.user_id, f"ping {i}", lambda body: body == f"pong {i}")

    scenarios = [Scenario("echo", echo_round, member, SyncWatch(echo.client))]

    bot_id = await new_user(synapse, "kring")
    kring = Kring(bot_config(synapse, home / "kring", bot_id))
    stack.push_async_callback(kring.stop)
    await kring.start()
    await asyncio.wait_for(kring.sync.caught_up.wait(), 60)
    kring_watch = SyncWatch(kring.gateway.client)
    for name, store in (("kring plain", None), ("kring encrypted", home / "member-store")):
        m = await _member(stack, synapse, store)
        room = await m.dm(bot_id, encrypted=store is not None)

        def kring_round(i: int, m: Member = m, room: str = room) -> Awaitable[Round]:
            return m.round(room, bot_id, "!ping", lambda body: body.startswith("Pong!"))

        scenarios.append(Scenario(name, kring_round, m, kring_watch))
    return scenarios


async def measure(scenarios: list[Scenario], rounds: int, warmup: int, interleave: bool) -> None:
    """Interleaved: round i of every scenario, then round i+1, so a load change on the machine
    touches all three alike. Blocks: all rounds of one scenario back to back, then the next."""
    if interleave:
        for i in range(-warmup, rounds):
            for sc in scenarios:
                r = await sc.round(i)
                if i >= 0:
                    sc.results.append(r)
    else:
        for sc in scenarios:
            for i in range(-warmup, rounds):
                r = await sc.round(i)
                if i >= 0:
                    sc.results.append(r)
    for sc in scenarios:
        if sc.member.stray:
            print(f"  {sc.name}: {sc.member.stray} unexpected messages from the other side", file=sys.stderr)


# ---- report ------------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Summary:
    name: str
    rtt: list[float]
    turnaround: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.rtt, q)

    def row(self) -> str:
        ta = f"{percentile(self.turnaround, 50):7.0f} {percentile(self.turnaround, 90):7.0f}" if self.turnaround else ""
        return (f"{self.name:<16} {self.p(50):7.1f} {self.p(90):7.1f} {self.p(99):7.1f} "
                f"{statistics.fmean(self.rtt):7.1f} {ta}")


def summarise(name: str, rounds: list[Round]) -> Summary:
    return Summary(name, [r.rtt_ms for r in rounds],
                   [r.turnaround_ms for r in rounds if r.turnaround_ms is not None])


def verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"<= {target:.2f}  {'met' if ratio <= target else 'MISSED'}"


def report(echo: Summary, plain: Summary, encrypted: Summary, rounds: int, warmup: int, interleave: bool,
           elapsed: float) -> None:
    order = "interleaved" if interleave else "in blocks"
    print(f"\nRound trip, member send -> answer seen in the member's sync: {rounds} rounds each, {order}, "
          f"{warmup} warm-up rounds discarded, {elapsed:.0f} s")
    print(f"{'ms':<16} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}   turnaround p50/p90 (server ts)")
    for s in (echo, plain, encrypted):
        print(s.row())
    print("slowest rounds (ms):")
    for s in (echo, plain, encrypted):
        print(f"  {s.name:<16} " + "  ".join(f"{v:.0f}" for v in sorted(s.rtt)[-6:][::-1]))
    print(f"\n{'ratio':<28} {'p50':>6} {'p99':>6}   target")
    for label, num, den, t50, t99 in (
        ("kring plain / echo", plain, echo, TARGET_PLAIN, TARGET_PLAIN),
        ("kring encrypted / echo", encrypted, echo, None, None),
        ("kring encrypted / plain", encrypted, plain, TARGET_ENCRYPTED, None),
    ):
        r50, r99 = num.p(50) / den.p(50), num.p(99) / den.p(99)
        targets = []
        if t50:
            targets.append(f"p50 {verdict(r50, t50)}")
        if t99:
            targets.append(f"p99 {verdict(r99, t99)}")
        print(f"{label:<28} {r50:6.2f} {r99:6.2f}   {'; '.join(targets) or '(for information)'}")


async def run(rounds: int, warmup: int, interleave: bool, keep: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-bench-"))
    try:
        async with AsyncExitStack() as stack:
            synapse = LocalSynapse(home / "synapse")
            print(f"starting Synapse in {home} ...", file=sys.stderr)
            await synapse.start()
            stack.push_async_callback(synapse.stop)
            scenarios = await set_up(stack, synapse, home)
            freeze_startup_objects()  # as a running bot does (Kring.run_tasks)
            print(f"measuring {warmup} + {rounds} rounds each "
                  f"({'interleaved' if interleave else 'one scenario after another'}) ...", file=sys.stderr)
            started = time.perf_counter()
            await measure(scenarios, rounds, warmup, interleave)
            elapsed = time.perf_counter() - started
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    echo, plain, encrypted = (summarise(sc.name, sc.results) for sc in scenarios)
    report(echo, plain, encrypted, rounds, warmup, interleave, elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500, help="measured rounds per scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=10, help="rounds discarded first (default 10)")
    parser.add_argument("--blocks", action="store_true",
                        help="all rounds of one scenario back to back instead of interleaving them")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (Synapse logs, bot db)")
    parser.add_argument("--verbose", action="store_true", help="show warnings from the bot and nio")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup not negative")
    asyncio.run(run(args.rounds, args.warmup, not args.blocks, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
