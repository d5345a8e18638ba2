"""The first sync `kring run` sends before it imports the bot (bot/matrix/early_sync.py): what it
reads from the config and what the last run left, the request it sends, when it sends none, and
that neither the command line nor the module loads the heavy libraries before it goes out. On a
real Synapse: tests/integration/test_early_sync.py."""
from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from bot.matrix.early_sync import CREDENTIALS_FILE, FILTER_ID_FILE, EarlySync, EarlySyncFailed, Settings, settings_from_file

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "syt_secret_token"
USER = "@kring:example.org"


def left_by_a_run(tmp_path: Path, homeserver: str, *, token: str | None = "s42_1", creds: bool = True,
                  filter_id: str | None = "3") -> Settings:
    """A store and database as a bot that ran before leaves them."""
    store = tmp_path / "store"
    store.mkdir()
    if creds:
        (store / CREDENTIALS_FILE).write_text(json.dumps({"user_id": USER, "device_id": "DEV", "access_token": TOKEN}))
    if filter_id is not None:
        (store / FILTER_ID_FILE).write_text(filter_id)
    db = tmp_path / "kring.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE key_values (key VARCHAR(64) PRIMARY KEY, value TEXT)")
        if token:
            conn.execute("INSERT INTO key_values VALUES ('sync_token', ?)", (token,))
    return Settings(homeserver, USER, store, f"sqlite+aiosqlite:///{db}")


class Homeserver:
    """A local HTTP server answering every GET with one status and JSON body (gzipped if asked)."""

    def __init__(self, status: int, body: dict) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, dict(self.headers)))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if "gzip" in self.headers.get("Accept-Encoding", ""):
                    data = gzip.compress(data)
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_the_request_is_the_first_sync_nio_would_send_with_the_token_as_a_header(tmp_path: Path) -> None:
    server = Homeserver(200, {"next_batch": "s43_1"})
    try:
        early = EarlySync.begin(left_by_a_run(tmp_path, server.url))
        assert early is not None
        assert json.loads(await early.body()) == {"next_batch": "s43_1"}
    finally:
        server.close()
    [(path, headers)] = server.requests
    assert path == "/_matrix/client/v3/sync?since=s42_1&full_state=true&filter=3"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(early.request), "the access token is never shown"


async def test_an_error_response_is_a_failure_naming_its_status_only(tmp_path: Path) -> None:
    server = Homeserver(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."})
    try:
        early = EarlySync.begin(left_by_a_run(tmp_path, server.url))
        with pytest.raises(EarlySyncFailed, match="^http 401$"):
            await early.body()
    finally:
        server.close()


async def test_an_unreachable_homeserver_is_a_failure(tmp_path: Path) -> None:
    early = EarlySync.begin(left_by_a_run(tmp_path, "http://127.0.0.1:9"))  # the discard port: nothing listens
    with pytest.raises(EarlySyncFailed, match="^ConnectionRefusedError$"):
        await early.body()


@pytest.mark.parametrize("left", [{"token": None}, {"creds": False}, {"filter_id": None}], ids=["first start", "no credentials", "no filter id"])
def test_nothing_is_sent_when_the_last_run_left_too_little(tmp_path: Path, left: dict) -> None:
    assert EarlySync.begin(left_by_a_run(tmp_path, "http://127.0.0.1:9", **left)) is None


def test_nothing_is_sent_for_another_users_credentials_or_for_postgresql(tmp_path: Path) -> None:
    settings = left_by_a_run(tmp_path, "http://127.0.0.1:9")
    assert EarlySync.begin(Settings(settings.homeserver, "@other:example.org", settings.store_path,
                                    settings.database_url)) is None
    assert EarlySync.begin(Settings(settings.homeserver, USER, settings.store_path,
                                    "postgresql+asyncpg://kring@localhost/kring")) is None


def test_differs_names_the_first_difference_and_never_a_value(tmp_path: Path) -> None:
    early = EarlySync.begin(left_by_a_run(tmp_path, "http://127.0.0.1:9"))
    same = {"homeserver": "http://127.0.0.1:9/", "user_id": USER, "device_id": "DEV", "access_token": TOKEN,
            "since": "s42_1", "filter_id": "3"}
    assert early.differs(**same) is None
    assert early.differs(**{**same, "access_token": "syt_other"}) == "access_token"
    assert early.differs(**{**same, "since": "s50_1", "filter_id": "4"}) == "since"


def test_settings_come_from_the_config_file_and_the_environment_as_load_config_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"matrix": {"homeserver": "https://m.example.org/", "user_id": USER,
                                               "request_timeout_seconds": 20}}))
    assert settings_from_file(path, {}) == Settings("https://m.example.org", USER, Path("data/store"),
                                                    "sqlite+aiosqlite:///data/kring.db", 20.0)
    env = {"KRING__MATRIX__STORE_PATH": "/srv/store", "KRING__STORAGE__DATABASE_URL": "sqlite+aiosqlite:////srv/k.db"}
    settings = settings_from_file(path, env)
    assert (settings.store_path, settings.database_url) == (Path("/srv/store"), "sqlite+aiosqlite:////srv/k.db")
    path.write_text(yaml.safe_dump({"matrix": {"homeserver": "ftp://m.example.org", "user_id": USER}}))
    assert settings_from_file(path, {}) is None, "the token is never sent where load_config would refuse"
    path.write_text("matrix: [not a mapping")
    assert settings_from_file(path, {}) is None
    assert settings_from_file(tmp_path / "missing.yaml", {}) is None


def test_the_command_line_sends_it_before_importing_nio_sqlalchemy_or_aiohttp(tmp_path: Path) -> None:
    settings = left_by_a_run(tmp_path, "http://127.0.0.1:9")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import bot.__main__  # noqa: F401 - the command line's own imports
        from bot.matrix.early_sync import EarlySync, Settings
        early = EarlySync.begin(Settings("http://127.0.0.1:9", {USER!r}, Path({str(settings.store_path)!r}),
                                         {settings.database_url!r}))
        print(early is not None, sorted(m for m in ("nio", "sqlalchemy", "aiohttp", "msgspec", "asyncio")
                                        if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []", out.stderr
