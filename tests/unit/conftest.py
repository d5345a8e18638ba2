"""Shared unit fixtures: a migrated database (SQLite, and PostgreSQL when it answers), a fake
clock and runtime, and a factory for the real Dispatcher. Test doubles live in helpers.py."""
from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.dispatch import DispatchSettings, Dispatcher
from bot.router import Registry
from storage.database import Database
from tests.unit.helpers import BOT, FakeClock, FakeRuntime

PG_SERVER = "postgres@127.0.0.1:5432"
PG_ADMIN_DSN = f"postgresql://{PG_SERVER}/test"
REQUIRE_POSTGRES = "KRING_REQUIRE_POSTGRES"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `both_databases` runs each test that uses `db` on SQLite and PostgreSQL."""
    if "db" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db", BACKENDS, indirect=True)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# -- databases ------------------------------------------------------------------------------

def _postgres_problem() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return None
    except OSError as err:
        return f"PostgreSQL does not answer on 127.0.0.1:5432 ({err.strerror or err})"


def _without_postgres(reason: str) -> None:
    """Skip, with the reason (pytest -rs prints it); or fail when the run requires PostgreSQL."""
    if os.environ.get(REQUIRE_POSTGRES) == "1":
        pytest.fail(f"{reason}; {REQUIRE_POSTGRES}=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; this check ran on SQLite only")


async def _admin(sql: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@dataclass(frozen=True)
class PgTemplate:
    """This run's migrated database, or why there is none."""

    name: str | None = None
    problem: str | None = None


_template: PgTemplate | None = None
_template_lock = asyncio.Lock()


async def _pg_template() -> PgTemplate:
    """This run's own database, made and migrated on first use; its name is unique to the run, so
    runs that share the server (other worktrees, CI) never meet. Dropped by `_drop_pg_template`
    at the end of the run. (A database per test costs seconds on a busy server: each test empties
    this one instead.)"""
    global _template
    async with _template_lock:
        if _template is None:
            _template = await _make_pg_template()
    return _template


async def _make_pg_template() -> PgTemplate:
    problem = _postgres_problem()
    if problem:
        return PgTemplate(problem=problem)
    name = f"kring_t{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except Exception as err:  # noqa: BLE001 - reported as the skip (or failure) reason
        return PgTemplate(problem=f"PostgreSQL on 127.0.0.1:5432 refused a test database ({type(err).__name__}: {err})")
    # the tests' data is thrown away: no need to wait for each commit to reach the disk
    await _admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    template = Database(f"postgresql+asyncpg://{PG_SERVER}/{name}")
    try:
        await template.migrate()
    finally:
        await template.close()
    return PgTemplate(name=name)


@pytest.fixture(scope="session", autouse=True)
async def _drop_pg_template() -> AsyncIterator[None]:
    yield
    if _template is not None and _template.name:
        await _admin(f'DROP DATABASE IF EXISTS "{_template.name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """The URL of an empty PostgreSQL database at the migration head: this run's database, every
    table emptied (tests run one at a time)."""
    template = await _pg_template()
    if template.name is None:
        _without_postgres(template.problem or "PostgreSQL is not available")
    url = f"postgresql+asyncpg://{PG_SERVER}/{template.name}"
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        if tables:
            await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    yield url


@asynccontextmanager
async def _database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with AsyncExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        database = Database(url)
        stack.push_async_callback(database.close)
        await database.migrate()
        yield database


@pytest.fixture
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A real database migrated to head: a SQLite file in tmp_path, or PostgreSQL where the module
    is marked `both_databases` (see pytest_generate_tests)."""
    async with _database(getattr(request, "param", "sqlite"), tmp_path) as database:
        yield database


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh migrated database on each backend (PostgreSQL: skipped with the reason when none
    answers, failed instead when KRING_REQUIRE_POSTGRES=1)."""
    async with _database(request.param, tmp_path) as database:
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
