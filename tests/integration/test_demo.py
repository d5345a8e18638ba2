"""The README's first command, as a newcomer runs it: `kring demo` starts Synapse and the bot,
prints the logins, answers a demo member, stops cleanly on Ctrl-C, and reuses everything next time."""
from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from tests.integration.members import NioMember


async def start_demo(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--dir", str(folder),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    text = ""
    while "Ctrl-C stops" not in text:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line, f"demo ended early: {(await proc.stderr.read()).decode()[-2000:]}"
        text += line.decode()
    return proc, text


async def stop_demo(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def test_demo_starts_answers_and_restarts(tmp_path):
    folder = tmp_path / "demo"
    proc, text = await start_demo(folder)
    try:
        homeserver = text.split("Homeserver: ")[1].split()[0]
        bot_user = text.split("Bot:")[1].split()[0]
        assert "@ann:localhost" in text and "!help" in text
        password = json.loads((folder / "accounts.json").read_text())["ann"]
        ann = NioMember(homeserver, "@ann:localhost", password)
        await ann.start()
        room = await ann.dm(bot_user, encrypted=False)
        await ann.send(room, "!ping")
        [reply] = await ann.messages_from(bot_user, room, 1)
        assert reply.content["body"].startswith("Pong!")
        # what the welcome text tells a newcomer to type works as it says
        await ann.send(room, "!accept-rules")
        await ann.messages_from(bot_user, room, 2)
        await ann.send(room, "!register demo-meeting")
        registered = await ann.first(lambda s: s.sender == bot_user and "Demo theme meeting" in s.content.get("body", ""))
        assert "waiting list" not in registered.content["body"]
        await ann.close()
    finally:
        await stop_demo(proc)
    device = json.loads((folder / "bot" / "store" / "credentials.json").read_text())["device_id"]

    proc, text = await start_demo(folder)
    try:
        assert f"Homeserver: {homeserver}" in text
        credentials = json.loads((folder / "bot" / "store" / "credentials.json").read_text())
        assert credentials["device_id"] == device, "the second run must reuse the bot's device"
    finally:
        await stop_demo(proc)
