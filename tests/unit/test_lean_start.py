"""Heavy modules load only when used: a bot that starts on an up-to-date database has not loaded
the migrations tooling (Alembic) nor the calendar library (icalendar) by the time it is ready."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_up_to_date_start_loads_neither_alembic_nor_icalendar(tmp_path: Path) -> None:
    db = tmp_path / "kring.db"
    script = textwrap.dedent(f"""
        import asyncio, subprocess, sys
        from storage.database import Database

        async def main():
            # A database at head, made by another process (as a bot finds it at its next start).
            subprocess.run([sys.executable, "-c", "import asyncio; from storage.database import Database; "
                            "d = Database({f"sqlite+aiosqlite:///{db}"!r}); asyncio.run(d.migrate())"], check=True)
            from bot.router import Registry
            import bot.app  # noqa: F401 - everything the running bot imports
            Registry.discover()  # every feature's module
            d = Database({f"sqlite+aiosqlite:///{db}"!r})
            await d.migrate()
            await d.close()
            print(sorted(m for m in ("alembic", "icalendar") if m in sys.modules))

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
