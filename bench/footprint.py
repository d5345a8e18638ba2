"""Memory and start-up of Kring beside a bare nio echo bot, both in the same rooms of one Synapse.

    .venv/bin/python bench/footprint.py [--rooms 300] [--runs 3]

Set-up (not timed): a local Synapse, N members, each opens a DM with Kring and one with the echo
bot (bench/echo_bot.py, no gap filling, no encryption), both bots running as processes of their
own until every DM is joined; then both are stopped. Kring's database is then up to date.

Measured, runs alternating echo / Kring, each bot started afresh as a process:
- ready: from spawning the process to the bot's first sync handled (Kring logs "ready", the echo
  bot prints it), i.e. the moment it would answer a command;
- idle RSS: the resident set once the ready bot has been idle (under 2% of a core) for 2 s;
- start peak: the process's peak resident set (VmHWM) at that moment, i.e. the peak of its start.
After each pair, a start of Kring without its first sync fetched at the process's start
(bot/matrix/early_sync.py; the filter id it needs removed, as after an upgrade that changed the
filter): what that head start saves, in the same run. Then as many starts of Kring with a
migration pending (its last migration undone before each), and of a process that only imports
the libraries Kring cannot start without (nio, SQLAlchemy's asyncio, msgspec, which validates the
config): the floor under Kring's figures. Kring's modules are byte-compiled first, as an installed
bot's are (bench/procs.py). Medians over the runs; the figures are reported against the
targets of issue 21, not asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bot.dev.synapse import LocalSynapse  # noqa: E402
from bot.matrix.early_sync import FILTER_ID_FILE  # noqa: E402
from procs import BotProcess, echo_process, kring_process, libraries_process  # noqa: E402
from registration_burst import PASSWORD, Http, gather_limited, new_account, until_quiet, wait_until  # noqa: E402

TARGET_IDLE = 1.5  # idle RSS <= 1.5 x echo
TARGET_PEAK = 1.6  # start peak <= 1.6 x echo
TARGET_READY_S = 1.0
# What Kring cannot start without.
LIBRARIES = ("nio", "sqlalchemy.ext.asyncio", "msgspec")


async def login(synapse: LocalSynapse, localpart: str) -> tuple[str, str, str]:
    """(user id, device id, token) of a fresh login."""
    body = await synapse._register(localpart, PASSWORD, admin=False, displayname=None, login=True)
    return body["user_id"], body["device_id"], body["access_token"]


async def joined(http: Http, token: str) -> int:
    return len((await http.call("GET", "/_matrix/client/v3/joined_rooms", token))["joined_rooms"])


async def kring_token(home: Path) -> str:
    return json.loads((home / "store" / "credentials.json").read_text())["access_token"]


async def set_up(synapse: LocalSynapse, http: Http, home: Path, rooms: int,
                 bots: list[BotProcess]) -> tuple[BotProcess, BotProcess]:
    started = time.monotonic()
    kring_id = (await new_account(synapse, "kring")).user_id
    echo_id, device, token = await login(synapse, "echo")
    coordinator = await new_account(synapse, "carol")
    kring = kring_process(home / "kring", synapse.url, kring_id, PASSWORD, [coordinator.user_id])
    echo = echo_process(synapse.url, echo_id, device, token, gap_fill=False)
    bots += [kring, echo]  # stopped by the caller, even when the set-up fails
    await kring.start()
    await echo.start()
    people = await gather_limited([new_account(synapse, f"m{i:04d}") for i in range(rooms)])

    async def dms(p) -> None:  # noqa: ANN001
        await http.dm(p, kring_id)
        await http.dm(p, echo_id)

    await gather_limited([dms(p) for p in people], 8)
    ktoken = await kring_token(home / "kring")

    async def all_joined() -> bool:
        return await joined(http, ktoken) >= rooms and await joined(http, token) >= rooms

    await wait_until(all_joined, "both bots to join every DM")
    k_rooms, e_rooms = await joined(http, ktoken), await joined(http, token)
    print(f"  set up: Kring in {k_rooms} rooms, echo in {e_rooms} ({time.monotonic() - started:.0f} s)",
          file=sys.stderr)
    await kring.idle()
    await asyncio.gather(kring.stop(), echo.stop())
    return kring, echo


async def one_run(bot: BotProcess, synapse: LocalSynapse) -> tuple[float, float, float]:
    """(seconds to ready, idle RSS MiB, start peak MiB) of one fresh start."""
    await until_quiet(synapse, for_s=1.0)
    bot.lines = []  # its output from this start on (the list is capped)
    ready = await bot.start()
    await bot.idle(for_s=2.0)
    rss, peak = bot.memory()
    await bot.stop()
    if bot.name == "kring":
        early = [line for line in bot.lines if '"msg": "first sync fetched at start"' in line]
        waited = f", {json.loads(early[0])['waited_s']:.2f} s waited for it" if early else ""
        print(f"    its first sync {'was' if early else 'was NOT'} the one fetched at start{waited} "
              "(bot/matrix/early_sync.py)", file=sys.stderr)
    return ready, rss, peak


def downgrade_one(home: Path) -> None:
    """Undo the last migration of Kring's database: its next start has one pending."""
    from alembic import command
    from sqlalchemy import create_engine

    from storage.migrate import alembic_config

    engine = create_engine(f"sqlite:///{home / 'kring.db'}")
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
    engine.dispose()


def report(rooms: int, runs: dict[str, list[tuple[float, float, float]]], elapsed: float) -> None:
    med = {name: [statistics.median(r[i] for r in rs) for i in range(3)] for name, rs in runs.items()}
    n = len(runs["echo"])
    print(f"\nFootprint: both bots in {rooms} rooms, {n} starts each (alternating), medians; wall {elapsed:.0f} s")
    print(f"{'':<10} {'ready s':>8} {'idle RSS MiB':>13} {'start peak MiB':>15}   (each run: ready / idle / peak)")
    for name, (ready, rss, peak) in med.items():
        each = "  ".join(f"{a:.2f}/{b:.0f}/{c:.0f}" for a, b, c in runs[name])
        print(f"{name:<10} {ready:8.2f} {rss:13.1f} {peak:15.1f}   {each}")
    print("(not early: Kring without the first sync fetched at the process's start, i.e. as before it;\n"
          " pending: Kring with one migration to run; libraries: a process importing only "
          f"{', '.join(LIBRARIES)})")
    ok = lambda good: "met" if good else "MISSED"  # noqa: E731
    k, e = med["kring"], med["echo"]
    print(f"\nidle RSS   kring / echo {k[1] / e[1]:.2f} (target <= {TARGET_IDLE}: {ok(k[1] / e[1] <= TARGET_IDLE)})")
    print(f"start peak kring / echo {k[2] / e[2]:.2f} (target <= {TARGET_PEAK}: {ok(k[2] / e[2] <= TARGET_PEAK)})")
    print(f"ready      kring {k[0]:.2f} s, echo {e[0]:.2f} s (target kring <= {TARGET_READY_S:.1f} s: "
          f"{ok(k[0] <= TARGET_READY_S)})")
    lib = med["libraries"]
    print(f"ready with the first sync not fetched early: kring {med['not early'][0]:.2f} s")
    print(f"ready with one migration pending: kring {med['pending'][0]:.2f} s (for information)")
    print(f"floor: the libraries alone take {lib[1] / e[1]:.2f} x echo's idle RSS and {lib[0]:.2f} s to import")


async def run(rooms: int, n_runs: int, keep: bool) -> None:
    home = Path(tempfile.mkdtemp(prefix="kring-footprint-"))
    synapse = LocalSynapse(home / "synapse")
    http, bots = None, []
    started = time.monotonic()
    try:
        print(f"starting Synapse in {home} ...", file=sys.stderr)
        await synapse.start()
        http = Http(synapse.url)
        kring, echo = await set_up(synapse, http, home, rooms, bots)
        runs: dict[str, list[tuple[float, float, float]]] = {"echo": [], "kring": [], "not early": []}
        for i in range(n_runs):
            for bot in (echo, kring):
                runs[bot.name].append(await one_run(bot, synapse))
                print(f"  run {i + 1} {bot.name}: ready {runs[bot.name][-1][0]:.2f} s", file=sys.stderr)
            (home / "kring" / "store" / FILTER_ID_FILE).unlink()  # the start's own first sync, as before
            runs["not early"].append(await one_run(kring, synapse))
            print(f"  run {i + 1} kring, first sync not fetched early: ready {runs['not early'][-1][0]:.2f} s",
                  file=sys.stderr)
        libraries = libraries_process(*LIBRARIES)
        bots.append(libraries)
        runs["pending"], runs["libraries"] = [], []
        for i in range(n_runs):
            downgrade_one(home / "kring")
            runs["pending"].append(await one_run(kring, synapse))
            runs["libraries"].append(await one_run(libraries, synapse))
            print(f"  run {i + 1} pending: ready {runs['pending'][-1][0]:.2f} s", file=sys.stderr)
    finally:
        for bot in bots:
            await bot.stop()
        if http:
            await http.close()
        await synapse.stop()
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    report(rooms, runs, time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=300, help="DMs each bot is in (default 300)")
    parser.add_argument("--runs", type=int, default=3, help="starts of each bot (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.rooms, args.runs, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
