"""The stored sync token, read with the standard library's sqlite3 before SQLAlchemy is imported
(bot/matrix/early_sync.py). None whenever that is not simple: PostgreSQL, no database yet, no
token, a table that is not there. What it returns is only a guess: the sync loop compares it with
the token it reads through storage.runtime_state once the database is migrated."""
from __future__ import annotations

import sqlite3
from pathlib import Path

SQLITE_PREFIX = "sqlite+aiosqlite:///"
SYNC_TOKEN = "sync_token"  # its key in the table key_values (storage.runtime_state)


def sqlite_sync_token(database_url: str) -> str | None:
    if not database_url.startswith(SQLITE_PREFIX) or "?" in database_url:
        return None
    path = Path(database_url[len(SQLITE_PREFIX):])
    if not path.is_file():  # sqlite3 would make an empty database
        return None
    try:
        conn = sqlite3.connect(path, timeout=1)
        try:
            row = conn.execute("SELECT value FROM key_values WHERE key = ?", (SYNC_TOKEN,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None
