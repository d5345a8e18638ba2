"""An Element-like Matrix member for tests, driven from asyncio.

Runs ``tests/element/member.mjs`` (matrix-js-sdk with its Rust crypto, the
same crypto stack as Element Web) as a child Node process and talks to it with
JSON lines. The member logs in with in-memory crypto, puts itself in
"exclude insecure devices" mode (``OnlySignedDevicesIsolationMode``) and
cross-signs its own device, as an Element user of 2026 does.

Typical use::

    ensure_node_modules()              # once per session (runs npm ci if needed)
    async with ElementMember("alice") as alice:
        await alice.login(url, "@alice:localhost", "pw")
        room = await alice.create_dm("@bot:localhost", encrypted=True)
        await alice.wait_joined(room, "@bot:localhost")
        sent = await alice.send(room, "!help")
        msg = await alice.wait_message(room, "@bot:localhost", after=sent)
        assert msg.decrypted and "help" in msg.body

A message that arrives but cannot be decrypted comes back at once with
``decrypted=False`` and ``error`` set to a matrix-js-sdk
``DecryptionFailureCode`` (``UNSIGNED_SENDER_DEVICE`` for a sender device
that its owner did not cross-sign, ``MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE``
when the sender withheld the key from us, ...), instead of the wait hanging.
Environment: ``ELEMENT_MEMBER_LOG`` (error|warn|info|debug) sets how much the
Node process logs to its stderr; the last lines of it are kept and put into
errors, and ``ELEMENT_MEMBER_ECHO=1`` also copies them to our stderr.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ELEMENT_DIR = Path(__file__).resolve().parent / "element"
MEMBER_JS = ELEMENT_DIR / "member.mjs"
_SDK_PACKAGE = ELEMENT_DIR / "node_modules" / "matrix-js-sdk" / "package.json"

# extra seconds the Python side waits beyond a wait op's own timeout_ms
_MARGIN_S = 15.0
_LOGIN_TIMEOUT_S = 120.0
_DEFAULT_TIMEOUT_S = 60.0


class ElementMemberError(RuntimeError):
    """The member process answered ok=false, died, or could not be started."""


class ElementMemberTimeout(ElementMemberError):
    """A wait op ran out of time (the member answered with timeout=true)."""


class NodeSetupError(RuntimeError):
    """Node or npm is missing, or installing tests/element failed."""


def ensure_node_modules() -> Path:
    """Install tests/element/node_modules once, if missing.

    Runs ``npm ci`` (from the committed package-lock.json) or ``npm install``
    when there is no lock. Serialised with a file lock, so parallel test
    processes do not install over each other. Returns the node_modules path.
    """
    node_modules = ELEMENT_DIR / "node_modules"
    if _SDK_PACKAGE.exists():
        return node_modules
    if shutil.which("node") is None:
        raise NodeSetupError("`node` is not on PATH: the Element-like member needs Node.js (20 or newer)")
    npm = shutil.which("npm")
    if npm is None:
        raise NodeSetupError("`npm` is not on PATH: cannot install matrix-js-sdk for the Element-like member")
    # the lock lives outside the work tree, keyed by it
    digest = hashlib.sha256(str(ELEMENT_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"kring-element-npm-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _SDK_PACKAGE.exists():  # another process installed it meanwhile
                return node_modules
            verb = "ci" if (ELEMENT_DIR / "package-lock.json").exists() else "install"
            cmd = [npm, verb, "--prefix", str(ELEMENT_DIR), "--no-audit", "--no-fund", "--loglevel=error"]
            try:
                proc = subprocess.run(cmd, cwd=ELEMENT_DIR, capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired as e:
                raise NodeSetupError(f"`{' '.join(cmd)}` did not finish in 600 s") from e
            if proc.returncode != 0 or not _SDK_PACKAGE.exists():
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
                raise NodeSetupError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return node_modules


@dataclass(frozen=True)
class Message:
    """One message event as the member saw it."""

    event_id: str
    sender: str
    type: str
    content: dict[str, Any]
    body: str | None
    encrypted: bool
    """The event came encrypted (m.room.encrypted on the wire)."""
    decrypted: bool
    """It was encrypted and the member decrypted it."""
    error: str | None
    """A DecryptionFailureCode when decryption failed, else None."""
    error_detail: str | None
    shield: dict[str, Any] | None
    """matrix-js-sdk's shield for a decrypted event: {"colour": 0 none/1 grey/2 red, "reason": ...}."""
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def readable(self) -> bool:
        """True if the member could read it (plaintext, or decrypted)."""
        return self.error is None

    @classmethod
    def from_answer(cls, a: dict[str, Any]) -> Message:
        return cls(
            event_id=a["event_id"],
            sender=a["sender"],
            type=a["type"],
            content=a.get("content") or {},
            body=a.get("body"),
            encrypted=bool(a.get("encrypted")),
            decrypted=bool(a.get("decrypted")),
            error=a.get("error"),
            error_detail=a.get("error_detail"),
            shield=a.get("shield"),
            raw=a,
        )


class ElementMember:
    """One Element-like member: a Node child process speaking JSON lines."""

    def __init__(self, name: str = "member", *, node: str = "node", log_level: str | None = None) -> None:
        self.name = name
        self._node = node
        self._log_level = log_level
        self._proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._tasks: list[asyncio.Task[None]] = []
        self._dead: str | None = None
        self._account: tuple[str, str] | None = None  # (user id, device id) as the SDK reports them

    # -- lifecycle -------------------------------------------------------
    async def start(self) -> ElementMember:
        if self._proc is not None:
            return self
        ensure_node_modules()
        env = dict(os.environ)
        if self._log_level:
            env["ELEMENT_MEMBER_LOG"] = self._log_level
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self._node,
                str(MEMBER_JS),
                cwd=str(ELEMENT_DIR),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                limit=64 * 1024 * 1024,
            )
        except FileNotFoundError as e:
            raise NodeSetupError(f"cannot run {self._node!r}: {e}") from e
        self._tasks = [
            asyncio.create_task(self._read_stdout(), name=f"{self.name}-stdout"),
            asyncio.create_task(self._read_stderr(), name=f"{self.name}-stderr"),
        ]
        return self

    async def __aenter__(self) -> ElementMember:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, timeout: float = 10.0) -> None:
        """Ask the member to stop; kill it if it does not exit in time."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None and self._dead is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request("stop"), timeout)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        for t in self._tasks:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(t, 5)
        self._proc = None

    @property
    def user_id(self) -> str:
        return self._logged_in()[0]

    @property
    def device_id(self) -> str:
        return self._logged_in()[1]

    def _logged_in(self) -> tuple[str, str]:
        if self._account is None:
            raise ElementMemberError(f"{self.name} is not logged in")
        return self._account

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self._stderr_tail)

    # -- ops ---------------------------------------------------------------
    async def login(
        self, homeserver: str, user: str, password: str, *, auto_join: bool = False
    ) -> dict[str, Any]:
        """Log in, set up in-memory Rust crypto, exclude insecure devices, cross-sign, first sync."""
        await self.start()
        a = await self._request(
            "login",
            _timeout=_LOGIN_TIMEOUT_S,
            homeserver=homeserver,
            user=user,
            password=password,
            auto_join=auto_join,
            device_name=f"Element-like {self.name}",
        )
        self._account = (a["user_id"], a["device_id"])
        return a

    async def create_dm(self, user: str, *, encrypted: bool = True, timeout_ms: int = 30000) -> str:
        """Create a DM with `user` the way Element does; returns the room id."""
        a = await self._request(
            "create_dm", _wait_ms=timeout_ms, user=user, encrypted=encrypted, timeout_ms=timeout_ms
        )
        return a["room_id"]

    async def join(self, room: str, *, timeout_ms: int = 30000) -> str:
        """Accept an invite (waits for it to come down sync first) and join."""
        a = await self._request("join", _wait_ms=timeout_ms, room=room, timeout_ms=timeout_ms)
        return a["room_id"]

    async def wait_joined(self, room: str, user: str, *, timeout_ms: int = 30000) -> None:
        await self._request("wait_joined", _wait_ms=timeout_ms, room=room, user=user, timeout_ms=timeout_ms)

    async def send(self, room: str, body: str | None = None, *, content: dict[str, Any] | None = None,
                   event_type: str | None = None, timeout_ms: int = 30000) -> str:
        """Send an m.text (or the given content, as `event_type`: a poll response); returns the event id."""
        params: dict[str, Any] = {"room": room, "timeout_ms": timeout_ms}
        if event_type:
            params["type"] = event_type
        if content is not None:
            params["content"] = content
        else:
            params["body"] = body or ""
        a = await self._request("send", _wait_ms=timeout_ms, **params)
        return a["event_id"]

    async def send_file(self, room: str, path: str | os.PathLike[str], *, name: str, mimetype: str,
                        timeout_ms: int = 120000) -> str:
        """Send a file as Element does (an encrypted attachment in an encrypted room); returns the event id."""
        a = await self._request("send_file", _wait_ms=timeout_ms, room=room, path=str(path), name=name,
                                mimetype=mimetype, timeout_ms=timeout_ms)
        return a["event_id"]

    async def wait_message(self, room: str, sender: str, *, timeout_ms: int = 30000, after: str | None = None,
                           utd_grace_ms: int = 3000, types: list[str] | None = None) -> Message:
        """The next message from `sender` in `room` (after event `after`, if given).

        Without `after`, messages are returned in order, each once. An event
        that fails to decrypt is returned with decrypted=False and `error`
        set; if the failure is one a late key could still cure (unknown
        session / message index), the member waits up to `utd_grace_ms` for
        the key first. Raises ElementMemberTimeout if nothing comes.
        """
        params: dict[str, Any] = {"room": room, "sender": sender, "timeout_ms": timeout_ms,
                                  "utd_grace_ms": utd_grace_ms}
        if after:
            params["after"] = after
        if types:
            params["types"] = types
        a = await self._request("wait_message", _wait_ms=timeout_ms, **params)
        return Message.from_answer(a)

    async def devices(self, user: str) -> list[dict[str, Any]]:
        """`user`'s devices as the member's crypto sees them (signed_by_owner, ...)."""
        a = await self._request("devices", user=user)
        return a["devices"]

    async def account_data(self, event_type: str) -> dict[str, Any] | None:
        """The member's global account data of that type as its client sees it (e.g. m.direct)."""
        a = await self._request("account_data", type=event_type)
        return a["content"]

    async def whoami(self) -> dict[str, Any]:
        return await self._request("whoami")

    # -- plumbing ------------------------------------------------------------
    async def _request(self, op: str, *, _timeout: float | None = None, _wait_ms: int | None = None,
                       **params: Any) -> dict[str, Any]:
        if self._proc is None or self._proc.stdin is None:
            raise ElementMemberError(f"{self.name}: not started")
        if self._dead is not None:
            raise ElementMemberError(
                f"{self.name}: member process is gone ({self._dead})\n{self.stderr_tail}"
            )
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        line = json.dumps({"id": rid, "op": op, **params}) + "\n"
        try:
            self._proc.stdin.write(line.encode())
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            self._pending.pop(rid, None)
            raise ElementMemberError(f"{self.name}: cannot write to member: {e}\n{self.stderr_tail}") from e
        if _timeout is None:
            _timeout = _wait_ms / 1000 + _MARGIN_S if _wait_ms is not None else _DEFAULT_TIMEOUT_S
        try:
            answer = await asyncio.wait_for(fut, _timeout)
        except asyncio.TimeoutError as e:
            raise ElementMemberTimeout(
                f"{self.name}: no answer to {op} in {_timeout:.0f} s\n{self.stderr_tail}"
            ) from e
        finally:
            self._pending.pop(rid, None)
        if not answer.get("ok"):
            err = answer.get("error", "unknown error")
            cls = ElementMemberTimeout if answer.get("timeout") else ElementMemberError
            raise cls(f"{self.name}: {op} failed: {err}")
        answer.pop("ok", None)
        answer.pop("id", None)
        return answer

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        reason = "stdout closed"
        try:
            while line := await self._proc.stdout.readline():
                try:
                    msg = json.loads(line)
                except ValueError:
                    self._stderr_tail.append(f"(non-JSON on stdout) {line[:500]!r}")
                    continue
                fut = self._pending.get(msg.get("id"))
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except Exception as e:  # noqa: BLE001 - reported through the pending futures
            reason = f"stdout reader failed: {e!r}"
        rc = await self._proc.wait()
        self._dead = f"{reason}, exit code {rc}"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ElementMemberError(f"{self.name}: member process exited ({self._dead})\n"
                                                     f"{self.stderr_tail}"))

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        echo = os.environ.get("ELEMENT_MEMBER_ECHO") == "1"
        while line := await self._proc.stderr.readline():
            text = line.decode(errors="replace").rstrip("\n")
            self._stderr_tail.append(text)
            if echo:
                print(f"[{self.name}] {text}", file=sys.stderr)
