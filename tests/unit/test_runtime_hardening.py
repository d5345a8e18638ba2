"""Runtime hardening: SQL parameters (people's text) never reach a log through an exception, the
crypto store directory is private, and !status's health answer makes no network call while the
command holds the database."""
from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot import app as app_module
from bot.app import Kring
from bot.config import Config
from bot.matrix.gateway import MatrixGateway
from storage.database import Database

SECRET = "my colleague told me about the abuse case"


async def test_a_database_error_does_not_carry_the_text_it_was_given(db: Database,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(OperationalError) as failure:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO no_such_table (body) VALUES (:body)"), {"body": SECRET})
    logging.getLogger("kring.test").error("a command failed", exc_info=failure.value)
    assert "no_such_table" in str(failure.value)
    assert SECRET not in str(failure.value) and SECRET not in caplog.text


def _config(tmp_path: Path, **matrix: object) -> Config:
    return Config.validate({
        "matrix": {"homeserver": "http://127.0.0.1:9", "user_id": "@kring:example.org", "password": "pw",
                   "store_path": str(tmp_path / "data" / "store"), **matrix},
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"},
    })


async def test_the_crypto_store_directory_is_private_without_a_passphrase(tmp_path: Path) -> None:
    gateway = MatrixGateway(_config(tmp_path).matrix)
    try:
        assert stat.S_IMODE((tmp_path / "data" / "store").stat().st_mode) == 0o700
    finally:
        await gateway.close()


async def test_status_health_answers_from_the_last_check_without_a_network_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kring = Kring(_config(tmp_path))
    await kring.db.migrate()
    checks: list[str] = []
    answers = {"reachable": True, "signed": True}

    async def reachable() -> bool:
        checks.append("homeserver")
        return answers["reachable"]

    async def device_is_cross_signed(client: object) -> bool:
        checks.append("cross-signing")
        return answers["signed"]

    monkeypatch.setattr(kring.gateway, "reachable", reachable)
    monkeypatch.setattr(app_module.crosssign, "device_is_cross_signed", device_is_cross_signed)
    monkeypatch.setattr(app_module, "HEALTH_INTERVAL", 0.05)
    try:
        await kring._check_network()  # what start() does before the bot answers commands
        checks.clear()
        async with kring.db.transaction() as session:
            health = await kring.health(session)
        assert checks == [], "no network call inside the command's transaction"
        assert (health["homeserver"], health["cross_signed"], health["database"], health["queue"]) == (
            True, True, True, 0)

        answers.update(reachable=False, signed=False)
        refreshed = asyncio.Event()
        check = kring._check_network

        async def check_and_tell() -> None:
            await check()
            refreshed.set()

        monkeypatch.setattr(kring, "_check_network", check_and_tell)
        watcher = asyncio.create_task(kring._watch_network())
        await asyncio.wait_for(refreshed.wait(), timeout=5)
        async with kring.db.transaction() as session:
            health = await kring.health(session)
        assert (health["homeserver"], health["cross_signed"]) == (False, False)

        kring._stopping.set()
        await asyncio.wait_for(watcher, timeout=1)
    finally:
        await kring.gateway.close()
        await kring.db.close()
