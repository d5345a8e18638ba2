"""Run Alembic migrations on an async engine (used by `kring migrate` and at start).

Alembic is heavy (about 12 MiB and a few hundred ms to import and set up), and at almost every
start there is nothing to migrate. So the database's revision is read first with one query and
compared with the newest migration file's, and Alembic is loaded only when they differ."""
from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("kring.migrate")
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:None|['\"]([^'\"]+)['\"])\s*$", re.M)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@cache
def head_revision() -> str | None:
    """The newest revision, read from the migration files as text; None when they do not form one
    plain chain (a merge, an unexpected layout): Alembic then decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0]:
            downs.add(down[0])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 and len(downs) == len(revisions) - 1 else None


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None when it has none (a new database) or holds several."""
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:
        return None  # no alembic_version table yet
    return rows[0] if len(rows) == 1 else None


async def is_up_to_date(engine: AsyncEngine) -> bool:
    head = head_revision()
    return head is not None and await current_revision(engine) == head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    if revision == "head" and await is_up_to_date(engine):
        return
    # Alembic logs "setup plugin ..." seven times as it is imported: quiet before that.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command

    def _run(sync_conn) -> None:  # noqa: ANN001
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    log.info("migrating the database", extra={"to": revision})
    async with engine.begin() as conn:
        await conn.run_sync(_run)
