"""The first sync of a start, asked for before the bot's modules are imported.

A restart's first sync (the full state of every room, from the stored token) is the longest wait
of a start: the homeserver takes 0.4 s for 300 rooms, and the request used to go out only after
the imports, the config, the bot object and the login (~0.7 s). Here `kring run` sends it first,
from a thread, with what the last run left: the device's credentials, the stored sync token (read
with sqlite3) and the id of the sync filter it uploaded. The homeserver works on it while Python
imports the bot.

Nothing is decided here. The gateway's first sync takes the response only when its own request
would have been the same one (homeserver, user, device, access token, since token, filter id:
`EarlySync.differs`); then nio parses it and takes it in (to-device events, room keys) as any
sync, and the batch is handled and its token stored as before. Otherwise, or when the early
request failed, the gateway asks again as it always did. A first ever start (no token), a store
without credentials or PostgreSQL (no token read early) simply take that path.

Standard library only (and PyYAML's loader): this runs before anything heavy is imported.
"""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from storage.token_peek import sqlite_sync_token

CREDENTIALS_FILE = "credentials.json"  # in matrix.store_path: user id, device id, access token
FILTER_ID_FILE = "sync_filter_id"  # in matrix.store_path: the id of the last sync filter uploaded
# The defaults of bot/config.py, for a config file that leaves them out. A wrong guess here costs
# only the head start: the gateway compares what was asked with what it would ask.
DEFAULT_STORE_PATH = "data/store"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/kring.db"
DEFAULT_TIMEOUT_S = 60.0


class EarlySyncFailed(Exception):
    """The early request brought no sync response (its reason names no secret)."""


@dataclass(frozen=True)
class Settings:
    homeserver: str
    user_id: str
    store_path: Path
    database_url: str
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Request:
    homeserver: str
    user_id: str
    device_id: str
    since: str
    filter_id: str
    access_token: str = field(repr=False)

    def path(self) -> str:
        """nio's GET /sync with full_state and no timeout (Api.sync), the token as a header."""
        query = urlencode({"since": self.since, "full_state": "true", "filter": self.filter_id})
        return f"/_matrix/client/v3/sync?{query}"


def settings_from_file(path: str | Path, environ: dict[str, str] | None = None) -> Settings | None:
    """The few settings the early sync needs, from the config file and KRING__ variables as
    bot/config.py reads them, without validating anything; None if the file does not read."""
    env = os.environ if environ is None else environ
    try:
        import yaml

        data = yaml.load(Path(path).read_text(encoding="utf-8"),  # noqa: S506 - a safe loader
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except Exception:  # noqa: BLE001 - load_config reports what is wrong with the file
        return None

    def setting(section: str, key: str, default: object = None) -> object:
        value = env.get(f"KRING__{section.upper()}__{key.upper()}")
        if value is not None:
            return value
        part = data.get(section) if isinstance(data, dict) else None
        return part.get(key, default) if isinstance(part, dict) else default

    homeserver, user_id = setting("matrix", "homeserver"), setting("matrix", "user_id")
    if not isinstance(homeserver, str) or not homeserver.startswith(("http://", "https://")) \
            or not isinstance(user_id, str):
        return None  # the token goes nowhere load_config would refuse
    try:
        return Settings(homeserver.rstrip("/"), user_id, Path(str(setting("matrix", "store_path", DEFAULT_STORE_PATH))),
                        str(setting("storage", "database_url", DEFAULT_DATABASE_URL)),
                        float(setting("matrix", "request_timeout_seconds", DEFAULT_TIMEOUT_S)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class EarlySync:
    """One early /sync request, under way in a thread of its own from construction."""

    def __init__(self, request: Request, timeout_s: float) -> None:
        self.request = request
        self._timeout_s = timeout_s
        self._result: Future[bytes] = Future()
        self._answered_at: float | None = None  # time.monotonic()
        threading.Thread(target=self._run, name="early sync", daemon=True).start()

    @classmethod
    def begin(cls, settings: Settings) -> EarlySync | None:
        """Send the first sync now, if the last run left what it needs; else None."""
        store = settings.store_path
        try:
            creds = json.loads((store / CREDENTIALS_FILE).read_text())
            filter_id = (store / FILTER_ID_FILE).read_text().strip()
        except (OSError, ValueError):
            return None
        since = sqlite_sync_token(settings.database_url)
        if not since or not filter_id or not isinstance(creds, dict) or creds.get("user_id") != settings.user_id:
            return None
        try:
            request = Request(settings.homeserver, creds["user_id"], creds["device_id"], since, filter_id,
                              access_token=creds["access_token"])
        except KeyError:
            return None
        return cls(request, settings.timeout_s)

    def differs(self, *, homeserver: str, user_id: str, device_id: str, access_token: str, since: str | None,
                filter_id: str) -> str | None:
        """What differs between the early request and the first sync the bot would send (None:
        nothing, the response is the one it would get)."""
        r = self.request
        mine = {"homeserver": homeserver.rstrip("/"), "user_id": user_id, "device_id": device_id,
                "access_token": access_token, "since": since, "filter_id": filter_id}
        ours = {"homeserver": r.homeserver, "user_id": r.user_id, "device_id": r.device_id,
                "access_token": r.access_token, "since": r.since, "filter_id": r.filter_id}
        return next((name for name in mine if mine[name] != ours[name]), None)  # a name, never a value

    async def body(self) -> bytes:
        """The response's JSON body, once it is in; EarlySyncFailed if there is none."""
        import asyncio

        return await asyncio.wrap_future(self._result)

    def waited_s(self, since: float) -> float:
        """How long after `since` (time.monotonic()) the answer came; 0 if before."""
        return max(0.0, (self._answered_at or since) - since)

    def _run(self) -> None:
        self._result.set_running_or_notify_cancel()  # a wait for it cancelled leaves it to finish
        try:
            body = self._fetch()
            self._answered_at = time.monotonic()
            self._result.set_result(body)
        except EarlySyncFailed as exc:
            self._result.set_exception(exc)
        except Exception as exc:  # noqa: BLE001 - the bot asks again; only the kind of fault is kept
            self._result.set_exception(EarlySyncFailed(type(exc).__name__))

    def _fetch(self) -> bytes:
        url = urlsplit(self.request.homeserver + self.request.path())
        connection = HTTPSConnection if url.scheme == "https" else HTTPConnection
        conn = connection(url.hostname, url.port, timeout=self._timeout_s)
        try:
            conn.request("GET", f"{url.path}?{url.query}",
                         headers={"Authorization": f"Bearer {self.request.access_token}", "Accept-Encoding": "gzip"})
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise EarlySyncFailed(f"http {resp.status}")
        if resp.getheader("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        return body
