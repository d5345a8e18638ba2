"""A real Synapse homeserver on 127.0.0.1 for the test suite and ``kring demo``.

Everything lives in one data directory: config, signing key, secrets, SQLite
database, media and logs. Starting again with the same directory reuses all of
it, including the port picked the first time.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from bot.dev.leftover import running_pid as leftover_pid, stop as stop_leftover
from bot.dev.synapse_config import homeserver_config, log_settings

log = logging.getLogger("kring.dev")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ADMIN_LOCALPART = "kring-devserver-admin"

class DevServerError(RuntimeError):
    """Synapse could not be started, or answered an API call with an error."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _api_error(what: str, status: int, body: dict[str, Any]) -> DevServerError:
    return DevServerError(f"{what} -> {status} {body.get('errcode')}: {body.get('error')}")


def _override_path(user_id: str) -> str:
    return f"/_synapse/admin/v1/users/{quote(user_id, safe='')}/override_ratelimit"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no file)"


class LocalSynapse:
    """One Synapse process serving plain HTTP on 127.0.0.1."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        server_name: str = "localhost",
        rate_limited: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.server_name = server_name
        self.rate_limited = rate_limited
        self._port = port or self._saved_state().get("port") or _free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin_token: str | None = None

    # -- paths and state -------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "homeserver.log"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "homeserver.pid"

    @property
    def _state_path(self) -> Path:
        return self.data_dir / "devserver.json"

    @property
    def port(self) -> int:
        """Explicit port, else the one saved in data_dir, else a free one (saved on start)."""
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The homeserver's process id while it runs (the benchmarks watch its CPU time)."""
        return self._proc.pid if self.running and self._proc else None

    def _saved_state(self) -> dict[str, Any]:
        if self._state_path.exists():
            return json.loads(self._state_path.read_text())
        return {}

    def _secret(self, name: str) -> str:
        """Read a secret file in data_dir, creating it (mode 0600) if missing."""
        path = self.data_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def _prepare(self) -> None:
        """Create data_dir, keys, secrets and the port on first run; (re)write config."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        state = self._saved_state()
        saved_name = state.get("server_name", self.server_name)
        if saved_name != self.server_name:
            raise DevServerError(
                f"{self.data_dir} belongs to server_name {saved_name!r}, not {self.server_name!r}"
            )
        state.update(server_name=self.server_name, port=self._port)
        self._state_path.write_text(json.dumps(state, indent=2) + "\n")

        key_path = self.data_dir / "signing.key"
        if not key_path.exists():
            from signedjson.key import generate_signing_key, write_signing_keys

            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                write_signing_keys(f, [generate_signing_key("a_" + secrets.token_hex(2))])
        for name in ("registration_shared_secret", "macaroon_secret_key", "form_secret"):
            self._secret(name)

        log_config = self.data_dir / "log.yaml"
        log_config.write_text(yaml.safe_dump(log_settings(self.log_path), sort_keys=False))
        config = homeserver_config(self.data_dir, self.server_name, self.port, key_path, log_config,
                                   rate_limited=self.rate_limited)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    # -- process ---------------------------------------------------------

    async def start(self) -> None:
        """Start Synapse and wait until the client API answers."""
        if self.running:
            return
        self._prepare()
        leftover = leftover_pid(self._pid_file, "synapse.app.homeserver", str(self.config_path))
        if leftover:  # left running by an earlier run that was killed hard: restart it as ours
            log.warning("stopping the homeserver an earlier run left behind (pid %s)", leftover)
            await stop_leftover(leftover)
        if _port_busy(self.port):
            raise DevServerError(
                f"127.0.0.1:{self.port} is already in use (a Synapse left running from "
                f"{self.data_dir}? see {self._pid_file})"
            )
        out = open(self.data_dir / "homeserver.stdout.log", "ab")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            out.close()
        # Synapse writes no pid file unless it daemonizes: the next run finds a leftover by this one.
        self._pid_file.write_text(f"{self._proc.pid}\n")
        atexit.register(self._kill_at_exit)
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    self._fail(f"Synapse exited with code {self._proc.returncode}")
                try:
                    async with http.get(self.url + "/_matrix/client/versions") as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    self._fail(f"Synapse did not answer within {START_TIMEOUT:.0f} s")
                await asyncio.sleep(0.1)

    def _fail(self, reason: str) -> None:
        raise DevServerError(
            f"{reason} ({self.url}, data in {self.data_dir}).\n"
            f"--- tail of {self.log_path.name} ---\n{_tail(self.log_path)}\n"
            f"--- tail of homeserver.stdout.log ---\n"
            f"{_tail(self.data_dir / 'homeserver.stdout.log')}"
        )

    async def stop(self) -> None:
        """SIGTERM, wait up to 15 s, then SIGKILL. Safe to call when not running."""
        proc, self._proc = self._proc, None
        self._admin_token = None
        if proc is None:
            return
        atexit.unregister(self._kill_at_exit)
        self._pid_file.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
        await asyncio.to_thread(proc.wait)

    def _kill_at_exit(self) -> None:
        """Last resort when the owner forgot stop(): never leave Synapse behind."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    async def __aenter__(self) -> LocalSynapse:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- HTTP helpers ----------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json_body: Any = None, token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            url = self.url + path
            async with http.request(method, url, json=json_body, headers=headers) as resp:
                return resp.status, await resp.json(content_type=None) or {}

    async def _admin_call(self, method: str, path: str, json_body: Any = None) -> dict[str, Any]:
        token = await self.admin_token()
        status, body = await self._call(method, path, json_body=json_body, token=token)
        if status != 200:
            raise _api_error(f"{method} {path}", status, body)
        return body

    # -- users -----------------------------------------------------------

    async def register_user(
        self, localpart: str, password: str, *, admin: bool = False, displayname: str | None = None
    ) -> str:
        """Register through the shared-secret admin API; return the id even if it exists."""
        body = await self._register(
            localpart, password, admin=admin, displayname=displayname, login=False
        )
        return body["user_id"]

    async def _register(
        self, localpart: str, password: str, *, admin: bool, displayname: str | None, login: bool
    ) -> dict[str, Any]:
        path = "/_synapse/admin/v1/register"
        _, nonce_body = await self._call("GET", path)
        nonce = nonce_body["nonce"]
        mac = hmac.new(self._secret("registration_shared_secret").encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode() + b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        request = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
            "inhibit_login": not login,
        }
        if displayname is not None:
            request["displayname"] = displayname
        status, body = await self._call("POST", path, json_body=request)
        if status == 200:
            return body
        if body.get("errcode") == "M_USER_IN_USE":
            return {"user_id": f"@{localpart.lower()}:{self.server_name}"}
        raise _api_error(f"registering {localpart!r}", status, body)

    async def login(self, localpart: str, password: str) -> str:
        """Log in with a password; return a fresh access token."""
        status, body = await self._call(
            "POST",
            "/_matrix/client/v3/login",
            json_body={
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": localpart},
                "password": password,
            },
        )
        if status != 200:
            raise _api_error(f"login {localpart!r}", status, body)
        return body["access_token"]

    async def admin_token(self) -> str:
        """Access token of the devserver's own admin user (kept in data_dir across restarts)."""
        if self._admin_token:
            return self._admin_token
        token_path = self.data_dir / "admin_token"
        if token_path.exists():
            token = token_path.read_text().strip()
            status, _ = await self._call("GET", "/_matrix/client/v3/account/whoami", token=token)
            if status == 200:
                self._admin_token = token
                return token
        password = self._secret("admin_password")
        body = await self._register(
            ADMIN_LOCALPART, password, admin=True, displayname=None, login=True
        )
        token = body.get("access_token") or await self.login(ADMIN_LOCALPART, password)
        token_path.unlink(missing_ok=True)
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        self._admin_token = token
        return token

    # -- rate limits -----------------------------------------------------

    async def set_user_ratelimit(
        self, user_id: str, messages_per_second: float, burst_count: int
    ) -> None:
        """Override the message rate limit of one user (0, 0 means no limit at all).

        Synapse only accepts whole numbers here, and non-zero values only affect
        sending events (rc_message), not the other limiters.
        """
        if messages_per_second != int(messages_per_second):
            raise ValueError("Synapse's override_ratelimit takes whole messages_per_second only")
        await self._admin_call(
            "POST",
            _override_path(user_id),
            {"messages_per_second": int(messages_per_second), "burst_count": int(burst_count)},
        )

    async def clear_user_ratelimit(self, user_id: str) -> None:
        """Remove a user's rate-limit override (back to the server's rc_message)."""
        await self._admin_call("DELETE", _override_path(user_id))
