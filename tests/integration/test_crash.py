"""Kill -9 at any moment and restart: every command is answered once, none twice. The bot runs as
the real `kring run` process here, so the kill is a real one; its logs must hold no secret."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import yaml

from tests.integration.conftest import PASSWORD

COMMANDS = 120


async def start_bot(config: Path, log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("ab"),
        env={**os.environ, "KRING__MATRIX__PASSWORD": PASSWORD},  # the secret comes from the environment
    )


async def _send_pings(alice, room: str) -> list[str]:  # noqa: ANN001
    return [await alice.send(room, "!ping") for _ in range(COMMANDS)]


def _pings_processed(db: Path) -> int:
    """Commands the killed bot had committed (the processed-events record is written in the
    command's own transaction, so this is exactly what it had done)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM processed_events WHERE command = 'ping'").fetchone()[0]


async def test_kill_9_mid_burst_then_restart_answers_each_once(synapse, make_member, tmp_path):
    bot_user = await synapse.register_user("crashbot", PASSWORD)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "matrix": {"homeserver": synapse.url, "user_id": bot_user, "store_path": str(tmp_path / "store"),
                   "key_passphrase": "crash-passphrase"},
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"},
        "bot": {"log_level": "DEBUG"},
    }))
    log = tmp_path / "bot.log"
    try:
        proc = await start_bot(config, log)
        alice = await make_member()
        room = await alice.group_with(bot_user, encrypted=False)
        await alice.send(room, "!ping")
        await alice.messages_from(bot_user, room, 1, timeout=60)

        # kill while the bot is busy with the burst: once some of it is answered, while the rest is
        # still being sent, so part of the burst reaches the bot only after the kill
        sending = asyncio.create_task(_send_pings(alice, room))
        await alice.messages_from(bot_user, room, 1 + COMMANDS // 10, timeout=60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        sent = await sending
        done = _pings_processed(tmp_path / "kring.db")
        assert 1 + COMMANDS // 10 <= done < 1 + COMMANDS, f"the kill must land mid-burst ({done} of {1 + COMMANDS} done)"

        proc = await start_bot(config, log)
        replies = await alice.messages_from(bot_user, room, 1 + COMMANDS, timeout=120)
        last = await alice.send(room, "!ping")
        replies = await alice.messages_from(bot_user, room, 2 + COMMANDS, timeout=60)
        answered = [r.content["m.relates_to"]["m.in_reply_to"]["event_id"] for r in replies[1:]]
        assert answered[-1] == last
        assert sorted(answered[:-1]) == sorted(sent), "every command answered"
        assert len(set(answered)) == len(answered), "no command answered twice"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, "SIGTERM stops the bot cleanly"
    finally:
        if proc.returncode is None:
            proc.kill()

    text = log.read_text()
    token = json.loads((tmp_path / "store" / "credentials.json").read_text())["access_token"]
    assert '"command": "ping"' in text and '"outcome": "ok"' in text
    assert PASSWORD not in text and token not in text and "crash-passphrase" not in text
    assert "!ping" not in text, "message bodies never reach the log"
