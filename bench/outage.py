"""How soon the bot answers after the homeserver comes back from an outage.

    .venv/bin/python bench/outage.py [--outage 20] [--rounds 3]

One local Synapse, the real bot and a member in an unencrypted DM. Each round stops Synapse,
waits --outage seconds, starts it again and, as soon as it answers, the member sends `!ping`.
"answered after" is the answer's origin_server_ts (Synapse's clock, this machine) minus the
moment Synapse answered again: what a person who tries the bot right away waits for. The target
(issue 14) is 5 s whatever the outage's length; the bot's longest wait between two tries is
matrix.retry_max_seconds (bot/retry.py). Figures are reported, not asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import Kring  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.dev.synapse import LocalSynapse  # noqa: E402
from tests.integration.members import NioMember  # noqa: E402

PASSWORD = "bench-password-1"
TARGET_S = 5.0


async def _ping(member: NioMember, bot_user: str, room: str) -> float:
    """Send !ping (retrying while the member's own connection recovers); the answer's server time."""
    answered = len([s for s in member.seen if s.sender == bot_user and s.room_id == room])
    while True:
        try:
            await member.send(room, "!ping")
            break
        except (AssertionError, OSError):
            await asyncio.sleep(0.05)
    seen = (await member.messages_from(bot_user, room, answered + 1, timeout=120))[answered]
    resp = await member.client.room_get_event(room, seen.event_id)
    return resp.event.server_timestamp / 1000


async def run(outage: float, rounds: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="kring-outage-"))
    synapse = LocalSynapse(work / "synapse")
    await synapse.start()
    kring = member = None
    try:
        bot_user = await synapse.register_user("kring", PASSWORD, displayname="Kring")
        member_user = await synapse.register_user("member", PASSWORD)
        config = Config.validate({
            "matrix": {"homeserver": synapse.url, "user_id": bot_user, "password": PASSWORD,
                       "store_path": str(work / "store"), "key_passphrase": "bench-passphrase"},
            "storage": {"database_url": f"sqlite+aiosqlite:///{work / 'kring.db'}"},
        })
        kring = Kring(config)
        await kring.start()
        await kring.sync.caught_up.wait()
        member = NioMember(synapse.url, member_user, PASSWORD)
        await member.start()
        room = await member.dm(bot_user, encrypted=False)
        await _ping(member, bot_user, room)
        print(f"outage {outage:.0f} s, matrix.retry_max_seconds {config.matrix.retry_max_seconds:g}")
        figures = []
        for n in range(1, rounds + 1):
            await synapse.stop()
            await asyncio.sleep(outage)
            await synapse.start()
            back = time.time()
            answered = await _ping(member, bot_user, room) - back
            figures.append(answered)
            print(f"round {n}: answered {answered:.2f} s after the homeserver was back")
        worst = max(figures)
        print(f"worst {worst:.2f} s (target <= {TARGET_S:.0f} s): {'OK' if worst <= TARGET_S else 'MISSED'}")
        return 0
    finally:
        if member:
            await member.close()
        if kring:
            await kring.stop()
        await synapse.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the homeserver is down")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    return asyncio.run(run(args.outage, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
