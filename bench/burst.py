"""A burst of 200 commands: Kring's CPU per command and time to the last reply beside a
gap-filling nio echo bot, in DMs and in one room; and how often Kring queries keys per sync.

    .venv/bin/python bench/burst.py [--members 200] [--rounds 1]

Set-up (not timed): a local Synapse; Kring (`python -m bot run`, SQLite, encryption on as
deployed) and the echo bot (bench/echo_bot.py --gap-fill: pages /messages over a limited
timeline as Kring does, answers each text with an m.notice, 8 sends in flight) run as processes
of their own; N members (plain HTTP) each open a DM with each bot, and all of them join one room
with Kring (made by a coordinator) and one with the echo bot.

Each burst: every member sends `!ping` at once (100 HTTP requests in flight) to one bot, in the
DMs or in that bot's room; per place the order is echo, Kring, echo (the ratio uses the echo's
mean), and each burst starts once Synapse and both bots are idle. Measured:
- CPU: the bot process's user + system time from the first send until it is idle again after
  the last reply (/proc/PID/stat), per command;
- last reply: from the first command to the bot's last answer, by the server's timestamps
  (read back with /messages);
- requests the bot made during the burst, from Synapse's access log: syncs, POST /keys/query,
  /messages (gap fill); and Kring's /messages calls while it joined the N + 1 new rooms.
Reported against the targets of issue 21, not asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot.dev.synapse import LocalSynapse  # noqa: E402
from footprint import joined, kring_token, login  # noqa: E402
from procs import BotProcess, echo_process, kring_process  # noqa: E402
from registration_burst import (  # noqa: E402
    PASSWORD, Http, Person, gather_limited, new_account, until_quiet, wait_until)

COMMAND = "!ping"
TARGET_CPU = 3.0  # kring CPU per command <= 3 x the echo's
TARGET_LAST = 1.1  # kring last reply <= 1.1 x the echo's
TARGET_KEYS_PER_SYNC = 0.1  # at most one key query per 10 syncs

REQUESTS = {
    "send": '"PUT /_matrix/client/v3/rooms/',
    "sync": '"GET /_matrix/client/v3/sync?',
    "keys": '"POST /_matrix/client/v3/keys/query',
    "messages": '/messages?',
}


class AccessLog:
    """Counts a user's requests in Synapse's log (synapse.access.http lines) from a mark on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pos = 0
        self._rest = b""
        self.counts: dict[tuple[str, str], int] = {}

    def mark(self) -> None:
        self.read()
        self.counts.clear()

    def read(self) -> None:
        with self.path.open("rb") as fh:
            fh.seek(self._pos)
            data = self._rest + fh.read()
            self._pos = fh.tell()
        *lines, self._rest = data.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            if "Processed request" not in line or " 200 \"" not in line:
                continue
            user = line.partition(" - {")[2].partition("}")[0]
            for kind, needle in REQUESTS.items():
                if needle in line and (kind != "send" or "/send/m.room.message/" in line):
                    self.counts[(user, kind)] = self.counts.get((user, kind), 0) + 1

    def count(self, user: str, kind: str) -> int:
        return self.counts.get((user, kind), 0)


@dataclass
class Result:
    bot: str
    place: str
    cpu_s: float
    first_ts: int
    last_reply_ts: int
    replies: int
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def last_reply_s(self) -> float:
        return (self.last_reply_ts - self.first_ts) / 1000


@dataclass
class Bot:
    proc: BotProcess
    user_id: str
    room: str = ""  # its shared room


async def messages(http: Http, token: str, room: str, limit: int) -> list[dict]:
    path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit={limit}"
    return (await http.call("GET", path, token))["chunk"]


async def room_messages_since(http: Http, token: str, room: str, since_ts: int) -> list[dict]:
    """Every event of the room from since_ts on (pages back until older)."""
    out: list[dict] = []
    path = f"/_matrix/client/v3/rooms/{quote(room)}/messages?dir=b&limit=500"
    frm = ""
    while True:
        body = await http.call("GET", path + (f"&from={quote(frm)}" if frm else ""), token)
        out.extend(body["chunk"])
        if not body["chunk"] or not body.get("end") or min(e["origin_server_ts"] for e in body["chunk"]) < since_ts:
            return [e for e in out if e["origin_server_ts"] >= since_ts]
        frm = body["end"]


def is_answer(event: dict, bot_id: str) -> bool:
    return (event["sender"] == bot_id and event["type"] == "m.room.message"
            and event["content"].get("msgtype") == "m.notice")


async def one_burst(http: Http, log: AccessLog, synapse: LocalSynapse, bots: list[Bot], bot: Bot,
                    people: list[Person], place: str, dm_of: dict[tuple[str, str], str]) -> Result:
    await until_quiet(synapse, for_s=1.5)
    await asyncio.gather(*(b.proc.idle(for_s=1.0) for b in bots))
    log.mark()
    cpu0 = bot.proc.cpu()
    room_of = (lambda p: dm_of[(p.user_id, bot.user_id)]) if place == "DMs" else (lambda p: bot.room)
    sent = await asyncio.gather(*(http.send(p, room_of(p), COMMAND) for p in people))

    async def answered() -> bool:
        log.read()
        return log.count(bot.user_id, "send") >= len(people)

    await wait_until(answered, f"{bot.proc.name} to answer in {place}", 600)
    await bot.proc.idle(for_s=1.0)
    cpu = bot.proc.cpu() - cpu0
    log.read()
    requests = {kind: log.count(bot.user_id, kind) for kind in REQUESTS}
    sent_ids = set(sent)
    if place == "DMs":
        first, last, replies = None, 0, 0
        chunks = await gather_limited([messages(http, p.token, room_of(p), 20) for p in people], 32)
        for chunk in chunks:
            mine = [e for e in chunk if e["event_id"] in sent_ids]
            answers = [e for e in chunk if is_answer(e, bot.user_id)]
            if mine:
                first = min(first or mine[0]["origin_server_ts"], mine[0]["origin_server_ts"])
            if answers:
                replies += 1
                last = max(last, max(e["origin_server_ts"] for e in answers))
    else:
        events = await room_messages_since(http, people[0].token, bot.room, 0)
        mine = [e["origin_server_ts"] for e in events if e["event_id"] in sent_ids]
        first = min(mine)
        answers = [e for e in events if is_answer(e, bot.user_id) and e["origin_server_ts"] >= first]
        replies, last = len(answers), max(e["origin_server_ts"] for e in answers)
    return Result(bot.proc.name, place, cpu, first or 0, last, replies, requests)


async def set_up(synapse: LocalSynapse, http: Http, home: Path, n: int, log: AccessLog, profile: Path | None,
                 bots: list[Bot], keep: bool = False) -> tuple[list[Person], dict[tuple[str, str], str], int]:
    started = time.monotonic()
    kring_id = (await new_account(synapse, "kring")).user_id
    echo_id, device, token = await login(synapse, "echo")
    coordinator = await new_account(synapse, "carol")
    kring = Bot(kring_process(home / "kring", synapse.url, kring_id, PASSWORD, [coordinator.user_id],
                              profile=profile), kring_id)
    echo = Bot(echo_process(synapse.url, echo_id, device, token, gap_fill=True), echo_id)
    bots += [kring, echo]  # stopped by the caller, even when the set-up fails
    if keep:
        kring.proc.log_path, echo.proc.log_path = home / "kring.log", home / "echo.log"
    await kring.proc.start()
    await echo.proc.start()
    await kring.proc.idle()
    log.mark()
    people = await gather_limited([new_account(synapse, f"m{i:04d}") for i in range(n)])
    dm_of: dict[tuple[str, str], str] = {}

    async def dms(p: Person) -> None:
        for bot in (kring, echo):
            dm_of[(p.user_id, bot.user_id)] = await http.dm(p, bot.user_id)

    await gather_limited([dms(p) for p in people], 8)
    for bot in (kring, echo):
        # Kring joins a group room only at a coordinator's invitation (issue 14: others are declined).
        body = {"preset": "public_chat", "invite": [bot.user_id], "name": f"burst {bot.proc.name}"}
        bot.room = (await http.call("POST", "/_matrix/client/v3/createRoom", coordinator.token, body))["room_id"]
        await gather_limited([http.call("POST", f"/_matrix/client/v3/join/{quote(bot.room)}", p.token, {})
                              for p in people], 8)
    ktoken = await kring_token(home / "kring")

    async def all_joined() -> bool:
        return await joined(http, ktoken) >= n + 1 and await joined(http, token) >= n + 1

    await wait_until(all_joined, "both bots to join every room")
    await kring.proc.idle()
    log.read()
    gap_fills = log.count(kring_id, "messages")
    print(f"  set up: {n} members, each bot in {n + 1} new rooms ({time.monotonic() - started:.0f} s)",
          file=sys.stderr)
    return people, dm_of, gap_fills


def report(n: int, results: list[Result], gap_fills: int, elapsed: float) -> None:
    ok = lambda good: "met" if good else "MISSED"  # noqa: E731
    print(f"\nBurst of {n} x {COMMAND}: wall {elapsed:.0f} s; bot CPU from the first send until idle after "
          f"the last reply; last reply by server timestamps")
    print(f"{'':<14} {'CPU s':>7} {'ms/cmd':>7} {'last reply':>10} {'replies':>8}   requests during the burst")
    for r in results:
        req = ", ".join(f"{k} {v}" for k, v in r.requests.items() if k != "send")
        print(f"{r.bot + ' ' + r.place:<14} {r.cpu_s:7.2f} {r.cpu_s / n * 1000:7.2f} {r.last_reply_s:9.2f}s "
              f"{r.replies:>4}/{n:<4} sends {r.requests.get('send', 0)}, {req}")
    print()
    for place in dict.fromkeys(r.place for r in results):
        kr = [r for r in results if r.place == place and r.bot == "kring"]
        ec = [r for r in results if r.place == place and r.bot == "echo"]
        cpu = statistics.fmean(r.cpu_s for r in kr) / statistics.fmean(r.cpu_s for r in ec)
        last = statistics.fmean(r.last_reply_s for r in kr) / statistics.fmean(r.last_reply_s for r in ec)
        print(f"{place:<5} CPU per command kring / echo {cpu:5.2f} (target <= {TARGET_CPU}: {ok(cpu <= TARGET_CPU)}); "
              f"last reply kring / echo {last:4.2f} (target <= {TARGET_LAST}: {ok(last <= TARGET_LAST)})")
    for r in (r for r in results if r.bot == "kring" and r.place == "DMs"):
        syncs, keys = r.requests.get("sync", 0), r.requests.get("keys", 0)
        per = keys / syncs if syncs else 0.0
        print(f"key queries in the DM burst: {keys} for {syncs} syncs ({per:.2f} per sync; target <= "
              f"{TARGET_KEYS_PER_SYNC}: {ok(per <= TARGET_KEYS_PER_SYNC)})")
    print(f"gap fills (/messages) by Kring while it joined {n + 1} new rooms: {gap_fills} (target 0: {ok(gap_fills == 0)})")


async def run(n: int, rounds: int, keep: bool, profile: Path | None) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-cpu-burst-"))
    synapse = LocalSynapse(home / "synapse")
    http, bots = None, []
    started = time.monotonic()
    try:
        print(f"starting Synapse in {home} ...", file=sys.stderr)
        await synapse.start()
        http = Http(synapse.url)
        log = AccessLog(synapse.log_path)
        people, dm_of, gap_fills = await set_up(synapse, http, home, n, log, profile, bots, keep)
        kring, echo = bots
        results = []
        for _ in range(rounds):
            for place in ("DMs", "room"):
                for bot in (echo, kring, echo):
                    results.append(await one_burst(http, log, synapse, bots, bot, people, place, dm_of))
                    r = results[-1]
                    print(f"  {r.bot} {place}: cpu {r.cpu_s:.2f} s, last reply {r.last_reply_s:.2f} s", file=sys.stderr)
    finally:
        for bot in bots:
            await bot.proc.stop()
        if http:
            await http.close()
        await synapse.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    report(n, results, gap_fills, time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="times the six bursts are repeated")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory, with the bots' output (kring.log, echo.log)")
    parser.add_argument("--profile", type=Path, help="run Kring under cProfile, its stats written to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.members, args.rounds, args.keep, args.profile and args.profile.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
