"""The README's first command, as a newcomer runs it: `kring demo` starts Synapse and the bot,
prints the logins, answers a demo member, stops cleanly on Ctrl-C, and reuses everything next time."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path

from tests.integration.members import NioMember


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_demo(folder: Path) -> tuple[asyncio.subprocess.Process, str]:
    # Not the demo's usual 8008: another test run on this machine may hold it.
    env = {**os.environ, "KRING_DEMO_PORT": str(_free_port())}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--dir", str(folder),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
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


async def ann_pings(folder: Path, homeserver: str, bot_user: str) -> tuple[NioMember, str]:
    """Ann logs in with the demo's password, opens a DM with the bot and gets a Pong."""
    password = json.loads((folder / "accounts.json").read_text())["ann"]
    ann = NioMember(homeserver, "@ann:localhost", password)
    await ann.start()
    room = await ann.dm(bot_user, encrypted=False)
    await ann.send(room, "!ping")
    [reply] = await ann.messages_from(bot_user, room, 1)
    assert reply.content["body"].startswith("Pong!")
    return ann, room


async def test_demo_starts_answers_and_restarts(tmp_path):
    folder = tmp_path / "demo"
    proc, text = await start_demo(folder)
    try:
        homeserver = text.split("Homeserver: ")[1].split()[0]
        bot_user = text.split("Bot:")[1].split()[0]
        assert "@ann:localhost" in text and "!help" in text
        assert "!rules" in text and f"rm -rf {folder}" in text  # the house rules; how to start afresh
        ann, room = await ann_pings(folder, homeserver, bot_user)
        # what the welcome text tells a newcomer to type works as it says
        accepted = await ann.reply_to(bot_user, room, await ann.send(room, "!accept-rules"))
        assert "Thank you for accepting the house rules" in accepted.content["body"], accepted.content["body"]
        registered = await ann.reply_to(bot_user, room, await ann.send(room, "!register demo-meeting"))
        assert "You are registered for Demo theme meeting" in registered.content["body"], registered.content["body"]
        # The event starts, on its own clock, when its programme begins.
        await ann.send(room, "!event demo-meeting")
        shown = await ann.first(lambda s: s.sender == bot_user and "17:30 welcome" in s.content.get("body", ""))
        assert re.search(r"17:30\s*[–-]\s*19:30", shown.content["body"]), shown.content["body"]
        # the meeting that has just ended takes Ann's feedback, as the welcome text says
        assert "!feedback demo-feedback" in text
        asked = await ann.reply_to(bot_user, room, await ann.send(room, "!feedback demo-feedback"))
        assert "Question 1 of 6" in asked.content["body"], asked.content["body"]
        # the intervision day is split into Fay's group, whose room is opened as the welcome says
        assert "!session open demo-intervision" in text
        listed = await ann.reply_to(bot_user, room, await ann.send(room, "!sessions demo-intervision"))
        assert "demo-intervision/1: 3 of 12 people" in listed.content["body"], listed.content["body"]
        assert "room: not opened yet" in listed.content["body"]
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


async def test_after_kill_9_the_next_demo_finds_what_was_left_running(tmp_path):
    folder = tmp_path / "demo"
    proc, text = await start_demo(folder)
    homeserver = text.split("Homeserver: ")[1].split()[0]
    bot_user = text.split("Bot:")[1].split()[0]
    homeserver_pid = int((folder / "synapse" / "homeserver.pid").read_text())
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert os.path.exists(f"/proc/{homeserver_pid}"), "kill -9 leaves the homeserver running"

    proc, text = await start_demo(folder)  # before: a traceback, "already in use ... see homeserver.pid"
    try:
        assert f"Homeserver: {homeserver}" in text
        assert int((folder / "synapse" / "homeserver.pid").read_text()) != homeserver_pid
        ann, _room = await ann_pings(folder, homeserver, bot_user)
        await ann.close()
    finally:
        await stop_demo(proc)
