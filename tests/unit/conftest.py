"""Shared unit fixtures: a migrated database (SQLite, and PostgreSQL when it answers), a fake
clock and runtime, and a factory for the real Dispatcher. Test doubles live in helpers.py."""
from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dispatch import DispatchSettings, Dispatcher
from bot.router import Registry
from storage.database import Database
from tests.unit.helpers import BOT, FakeClock, FakeRuntime

PG_SERVER = "postgres@127.0.0.1:5432"
PG_ADMIN_DSN = f"postgresql://{PG_SERVER}/test"


# -- databases ------------------------------------------------------------------------------

@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file in tmp_path, migrated to head."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}")
    await database.migrate()
    yield database
    await database.close()


def _postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; skips when none answers."""
    if not _postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432; this check ran on SQLite only")
    import asyncpg

    name = f"kring_unit_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_SERVER}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh migrated database on each backend (the PostgreSQL run skips when none answers)."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        database = Database(url)
        stack.push_async_callback(database.close)
        await database.migrate()
        yield database


# -- the dispatcher ----------------------------------------------------------------------------

@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def make_dispatcher(db: Database, clock: FakeClock, runtime: FakeRuntime) -> Callable[..., Dispatcher]:
    """The real Dispatcher over `db`, with the commands of commands/ unless a Registry is given."""

    def factory(registry: Registry | None = None, *, max_age: timedelta = timedelta(minutes=10),
                prefix: str = "!", display_name: str | None = "Kring Bot") -> Dispatcher:
        settings = DispatchSettings(bot_user_id=BOT, prefix=prefix, language="en", max_age=max_age,
                                    bot_display_name=display_name)
        return Dispatcher(db, registry or Registry.discover(), settings, runtime, clock)

    return factory
