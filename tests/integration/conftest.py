"""A real Synapse for the whole session, and factories for a bot and members on it."""
from __future__ import annotations

import itertools
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Kring
from bot.config import Config
from bot.dev.synapse import LocalSynapse
from bot.matrix.early_sync import EarlySync
from tests.integration.members import NioMember

PASSWORD = "test-password-1"
_ids = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.synapse)


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSynapse]:
    server = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    await server.start()
    yield server
    await server.stop()


class BotUnderTest:
    """A Kring bot with its own account, database and store; restartable like a real deployment."""

    def __init__(self, synapse: LocalSynapse, home: Path, user_id: str, **overrides: object) -> None:
        self.synapse = synapse
        self.home = home
        self.user_id = user_id
        self.clock = overrides.pop("clock", None)  # an injectable clock (a callable returning aware UTC)
        bot_section = {"coordinators": [], **overrides.pop("bot", {})}
        self.config = Config.validate({
            "matrix": {"homeserver": synapse.url, "user_id": user_id, "password": PASSWORD,
                       "store_path": str(home / "store"), "key_passphrase": "test-passphrase",
                       **overrides.pop("matrix", {})},
            "storage": {"database_url": f"sqlite+aiosqlite:///{home / 'kring.db'}"},
            "bot": bot_section,
            **overrides,
        })
        self.kring: Kring | None = None

    async def start(self, early_sync: EarlySync | None = None) -> Kring:
        """early_sync: a first sync fetched beforehand, as `kring run` does (bot/matrix/early_sync.py)."""
        clock = {"clock": self.clock} if self.clock else {}
        self.kring = Kring(self.config, early_sync=early_sync, **clock)
        await self.kring.start()
        await self.kring.sync.caught_up.wait()
        return self.kring

    async def stop(self) -> None:
        if self.kring:
            await self.kring.stop()
            self.kring = None

    async def grant(self, user_id: str, role: str, network: str = "main") -> None:
        """Test setup: give someone a role directly in the bot's database."""
        from datetime import datetime, timezone

        from storage import members
        from storage.database import Database

        db = Database(self.config.storage.database_url)
        await db.migrate()
        async with db.transaction() as session:
            await members.set_role(session, network, user_id, role, datetime.now(timezone.utc))
        await db.close()

    async def restart(self) -> Kring:
        await self.stop()
        return await self.start()


@pytest.fixture
async def make_bot(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator:
    bots: list[BotUnderTest] = []

    async def factory(start: bool = True, **overrides: object) -> BotUnderTest:
        localpart = f"kring{next(_ids)}"
        user_id = await synapse.register_user(localpart, PASSWORD, displayname="Kring")
        bot = BotUnderTest(synapse, tmp_path / localpart, user_id, **overrides)
        bots.append(bot)
        if start:
            await bot.start()
        return bot

    yield factory
    for bot in bots:
        await bot.stop()


@pytest.fixture
async def make_member(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator:
    members: list[NioMember] = []

    async def factory(name: str | None = None, *, encrypted: bool = False) -> NioMember:
        localpart = name or f"member{next(_ids)}"
        user_id = await synapse.register_user(localpart, PASSWORD)
        store = tmp_path / f"store-{localpart}" if encrypted else None
        member = NioMember(synapse.url, user_id, PASSWORD, store)
        await member.start()
        members.append(member)
        return member

    yield factory
    for member in members:
        await member.close()
