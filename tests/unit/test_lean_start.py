"""Heavy work waits until it is used: a bot that starts on an up-to-date database has not loaded
the migrations tooling (Alembic), the calendar library (icalendar) nor PostgreSQL's dialect (on
SQLite) by the time it is ready, nor derived the files key from the passphrase; and pydantic
(some 7 MiB resident) is not loaded at all: msgspec validates the config. Babel waits for the
first text with a number, plural or date; pycryptodome's Ed25519 for the first signature (a start
checks the device's signatures with vodozemac, which nio's encryption has loaded)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_an_up_to_date_sqlite_start_loads_neither_alembic_nor_icalendar_nor_postgresql_nor_pydantic(tmp_path: Path) -> None:
    db = tmp_path / "kring.db"
    script = textwrap.dedent(f"""
        import asyncio, subprocess, sys
        from datetime import datetime, timezone
        from storage import processed, runtime_state
        from storage.database import Database

        async def main():
            # A database at head, made by another process (as a bot finds it at its next start).
            subprocess.run([sys.executable, "-c", "import asyncio; from storage.database import Database; "
                            "d = Database({f"sqlite+aiosqlite:///{db}"!r}); asyncio.run(d.migrate())"], check=True)
            from bot.router import Registry
            import bot.app  # noqa: F401 - everything the running bot imports
            bot.app.Config.validate({{"matrix": {{"homeserver": "https://m.example.org", "user_id": "@k:example.org",
                                                "password": "p"}}}})  # as load_config does
            Registry.discover()  # every feature's module
            d = Database({f"sqlite+aiosqlite:///{db}"!r})
            await d.migrate()
            async with d.transaction() as session:  # an upsert and an insert-or-ignore, as every sync makes
                await runtime_state.put(session, runtime_state.SYNC_TOKEN, "s1")
                await processed.claim(session, "$e1", "!r", datetime.now(timezone.utc))
            await d.close()
            print(sorted(m for m in ("alembic", "icalendar", "sqlalchemy.dialects.postgresql", "pydantic", "babel", "html.entities",
                                     "Crypto.Signature.eddsa") if m in sys.modules))

        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_babel_and_ed25519_signing_load_when_first_used_and_work_then() -> None:
    script = textwrap.dedent("""
        import sys
        from datetime import datetime, timezone
        import bot.app
        from bot.router import Registry
        from api.i18n import Translator
        from bot.matrix.crosssign_keys import SigningKey, verify_signature
        Registry.discover()
        t = Translator("nl")
        plain = t("rooms.lobby.topic", network="Noord").plain  # a text without numbers needs no CLDR data
        before = sorted(m for m in ("babel", "Crypto.Signature.eddsa") if m in sys.modules)
        day = t.date(datetime(2025, 9, 23, 10, tzinfo=timezone.utc), "Europe/Amsterdam")
        key = SigningKey(bytes(32))
        signed = key.sign_into({"user_id": "@k:x"}, "@k:x")
        print(before, bool(plain), day, verify_signature(signed, "@k:x", key.public), "babel" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "dinsdag", "23", "september", "2025", "True", "True"], out.stderr


def test_a_passphrase_files_key_is_derived_when_a_file_is_first_kept_and_opens_it_after_a_restart(
        tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """scrypt takes 16 MiB and tens of milliseconds: a start does not spend them, the first file does."""
    from storage import vault

    derived: list[str] = []
    real = vault.derive_key
    monkeypatch.setattr(vault, "derive_key", lambda passphrase: derived.append(passphrase) or real(passphrase))
    folder, key_file = tmp_path / "kept", tmp_path / "files.key"
    key, kept_in_file = vault.load_key(None, key_file, passphrase="correct horse")
    started = vault.FileVault(folder, key, max_bytes=1000)
    assert derived == [] and not kept_in_file and not key_file.exists()

    source = tmp_path / "case.pdf"
    source.write_bytes(b"%PDF confidential")
    handle = started.keep(source)
    assert derived == ["correct horse"]

    restarted = vault.FileVault(folder, vault.load_key(None, key_file, passphrase="correct horse")[0], max_bytes=1000)
    assert restarted.read(handle) == b"%PDF confidential"
    other = vault.FileVault(folder, vault.load_key(None, key_file, passphrase="another")[0], max_bytes=1000)
    with pytest.raises(ValueError):
        other.read(handle)


def test_a_start_that_migrates_logs_the_migration_without_alembics_plugin_chatter(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, logging
        from storage.database import Database

        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        d = Database({f"sqlite+aiosqlite:///{tmp_path / 'kring.db'}"!r})
        asyncio.run(d.migrate())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "kring.migrate: migrating the database" in out.stderr
    assert "setup plugin" not in out.stderr, out.stderr


def test_a_start_imports_no_feature_until_one_is_used() -> None:
    """The bot knows its commands, jobs and hooks from commands/declared.json; a feature's modules
    load when one of its commands is first typed or its job first runs, and work then. So does
    difflib (suggestions for a mistyped command)."""
    script = textwrap.dedent("""
        import sys
        import bot.app
        from bot.router import Registry
        registry = Registry.load()
        idle_difflib = "difflib" in sys.modules
        features = lambda: sorted({m.split(".")[1] for m in sys.modules if m.startswith("commands.")})
        before = features()
        spec, rest = registry.match("register spring-day morning")
        typed = features()
        registry.jobs["events.offer_expiry"]  # known, not yet run
        print(before, typed, [p.name for p in spec.params], repr(rest), features())
        print(idle_difflib, registry.match("registr spring-day").suggestions[0])
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[] ['common', 'events'] ['e', 'chosen'] 'spring-day morning' ['common', 'events']",
        "False register",  # difflib, for suggestions, loads with the first mistyped command
    ], out.stderr
