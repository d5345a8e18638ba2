"""While the homeserver is away the bot keeps trying at least every matrix.retry_max_seconds, so it
answers again soon after the homeserver is back however long the outage was; and the homeserver
cutting the open long poll (aiohttp's ServerDisconnectedError) is a WARNING line, not a traceback.
Measured end to end in bench/outage.py."""
from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from bot.app import Kring
from bot.config import Config

FAILURES = 12


def _config(tmp_path: Path, retry_max_seconds: float) -> Config:
    return Config.validate({
        "matrix": {"homeserver": "http://127.0.0.1:9", "user_id": "@kring:example.org", "password": "pw",
                   "store_path": str(tmp_path / "store"), "retry_max_seconds": retry_max_seconds},
        "storage": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"},
    })


@pytest.mark.parametrize("cap", [2.0, 3.0])
async def test_sync_retries_never_wait_longer_than_the_configured_cap_and_only_warn(
        tmp_path: Path, cap: float, caplog: pytest.LogCaptureFixture) -> None:
    kring = Kring(_config(tmp_path, cap))
    await kring.db.migrate()
    waits: list[float] = []

    async def filter_id() -> str:
        return "filter"

    async def homeserver_cuts_the_poll(**_kwargs: object) -> None:
        raise aiohttp.ServerDisconnectedError()

    async def fake_sleep(seconds: float) -> None:  # the fake clock: record the wait, do not wait
        waits.append(seconds)
        if len(waits) == FAILURES:
            kring.sync.stop()

    kring.gateway.upload_filter = filter_id  # type: ignore[method-assign]
    kring.gateway.client.sync = homeserver_cuts_the_poll  # type: ignore[method-assign]
    kring.sync._sleep = fake_sleep
    try:
        with caplog.at_level(logging.INFO):
            await kring.sync.run()
    finally:
        await kring.gateway.close()
        await kring.db.close()

    assert len(waits) == FAILURES
    assert waits[:3] == [0.5, 1.0, 2.0]
    assert max(waits) == cap and all(w <= cap for w in waits)
    retries = [r for r in caplog.records if r.getMessage() == "sync failed, retrying"]
    assert len(retries) == FAILURES and {r.levelno for r in retries} == {logging.WARNING}
    assert {r.error for r in retries} == {"ConnectionError"}  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
