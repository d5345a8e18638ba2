"""The only module that talks to matrix-nio: login with a kept device, sync, decryption,
gap filling, and the sending primitives the outbox uses."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import nio

from bot.config import MatrixConfig
from bot.matrix.early_sync import CREDENTIALS_FILE, FILTER_ID_FILE, EarlySync, EarlySyncFailed
from bot.matrix.keywork import KeyWork
from bot.matrix.late_keys import LateKeys
from bot.matrix.rooms import RoomAdmin, SendOutcome
from bot.matrix import schemas
from bot.matrix.timeline import (  # noqa: F401 - Invite, MemberChange, Undecryptable re-exported
    Invite, MemberChange, SyncBatch, Undecryptable, collect, fill_gap, joined_now, to_incoming)
from bot.matrix.uploads import MediaUploads

log = logging.getLogger("kring.matrix")

SYNC_FILTER = {
    "presence": {"types": []},
    "account_data": {"types": ["m.direct"]},
    "room": {
        "timeline": {
            "limit": 100,
            "types": ["m.room.message", "m.room.encrypted", "m.room.member", "m.room.encryption",
                      "m.room.create", "m.room.power_levels", "m.room.name", "m.room.join_rules"],
        },
        "state": {"lazy_load_members": True},
        "ephemeral": {"types": []},
        "account_data": {"types": []},
    },
}


# What a network fault in a sync batch may raise: nio lets aiohttp's errors through, and some of
# them (ServerDisconnectedError: the homeserver cut the connection) are not OSErrors.
NETWORK_ERRORS = (ConnectionError, OSError, TimeoutError, aiohttp.ClientError)


class StoreMissingError(RuntimeError):
    """A device is known but its crypto store is gone: never silently make a new device."""


class MatrixGateway(RoomAdmin, LateKeys):
    to_incoming = staticmethod(to_incoming)  # bot/matrix/timeline.py; LateKeys uses it

    def __init__(self, cfg: MatrixConfig, early_sync: EarlySync | None = None) -> None:
        self.cfg = cfg
        # The first sync, asked for at the process's start (bot/matrix/early_sync.py): taken by
        # the first sync if it is the same request.
        self.early_sync = early_sync
        self._keys_uploaded_at_login = False
        self.store_path = Path(cfg.store_path)
        # The crypto store holds the device's keys (pickled with "DEFAULT_KEY" when no
        # matrix.key_passphrase is set): only the bot's own user may read it.
        self.store_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.store_path.stat().st_mode & 0o077:
            log.warning("the matrix store directory is open to other users; chmod 700 it",
                        extra={"store_path": str(self.store_path)})
        client_cfg = nio.AsyncClientConfig(
            encryption_enabled=True,
            store_sync_tokens=False,
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=cfg.request_timeout_seconds,
            pickle_key=cfg.key_passphrase.get_secret_value() if cfg.key_passphrase else "DEFAULT_KEY",
        )
        schemas.install()  # one validator per schema for nio's parsers (bot/matrix/schemas.py)
        self.client = nio.AsyncClient(cfg.homeserver, cfg.user_id, store_path=str(self.store_path), config=client_cfg)
        self.synced = asyncio.Condition()
        self.display_name: str | None = None
        self.key_work = KeyWork(self.client)
        self.uploads = MediaUploads(self.client)
        # Rooms this bot created with encryption on. A room someone else created reaches the bot
        # complete (it joins after the invite, which comes after the room's initial state).
        self.encrypted_by_us: set[str] = set()
        # Room events other than messages that features declared (@on_room_event): let through by
        # the sync filter and handed on like messages. Set before the first sync (bot/app.py).
        self.room_event_types: frozenset[str] = frozenset()

    # ---- login -------------------------------------------------------------------------
    @property
    def _credentials_file(self) -> Path:
        return self.store_path / CREDENTIALS_FILE

    @property
    def device_id(self) -> str:
        return self.client.device_id

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def login(self) -> None:
        """Reuse the stored device and token; log in with the password only the first time."""
        creds = self._read_credentials()
        if creds:
            self._check_store(creds["device_id"])
            self.client.restore_login(creds["user_id"], creds["device_id"], creds["access_token"])
            who = await self.client.whoami()
            if isinstance(who, nio.WhoamiError):
                raise RuntimeError(f"the stored access token was refused ({who.status_code}); "
                                   f"remove {self._credentials_file} to log in again with a new device")
        elif self.cfg.access_token:
            self.client.access_token = self.cfg.access_token.get_secret_value()
            who = await self.client.whoami()
            if isinstance(who, nio.WhoamiError) or not who.device_id:
                raise RuntimeError("matrix.access_token was refused or belongs to no device")
            self._check_store(who.device_id)
            self.client.restore_login(who.user_id, who.device_id, self.client.access_token)
            self._write_credentials()
        else:
            if not self.cfg.password:
                raise RuntimeError("no stored login and no matrix.password to log in with")
            resp = await self.client.login(self.cfg.password.get_secret_value(), device_name=self.cfg.device_name)
            if isinstance(resp, nio.LoginError):
                raise RuntimeError(f"login refused: {resp.status_code} {resp.message}")
            self._write_credentials()
        if self.client.should_upload_keys:
            self._keys_uploaded_at_login = True
            await self.client.keys_upload()
        self._skip_empty_store_writes()
        profile = await self.client.get_displayname(self.client.user_id)
        self.display_name = getattr(profile, "displayname", None)
        log.info("logged in", extra={"user_id": self.client.user_id, "device_id": self.client.device_id})

    def _skip_empty_store_writes(self) -> None:
        """nio saves the set of encrypted rooms after every sync, even an empty one: a synchronous
        SQLite write on the event loop (about 1 ms a sync, on every command's path)."""
        store = self.client.store
        if store is not None:
            save = store.save_encrypted_rooms
            store.save_encrypted_rooms = lambda rooms: save(rooms) if rooms else None

    def _check_store(self, device_id: str) -> None:
        store = self.store_path / f"{self.cfg.user_id}_{device_id}.db"
        if not store.exists():
            raise StoreMissingError(
                f"the crypto store for device {device_id} is missing ({store}). Restore it from a backup; "
                f"or, to start over with a new device (members will see a new session), delete "
                f"{self._credentials_file} and start again."
            )

    def _read_credentials(self) -> dict[str, str] | None:
        try:
            data = json.loads(self._credentials_file.read_text())
        except FileNotFoundError:
            return None
        if data.get("user_id") != self.cfg.user_id:
            raise RuntimeError(f"{self._credentials_file} belongs to {data.get('user_id')}, not {self.cfg.user_id}")
        return data

    def _write_credentials(self) -> None:
        path = self._credentials_file
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"user_id": self.client.user_id, "device_id": self.client.device_id,
                       "access_token": self.client.access_token}, fh)

    # ---- sync --------------------------------------------------------------------------
    def sync_filter(self) -> dict[str, Any]:
        timeline = {**SYNC_FILTER["room"]["timeline"],
                    "types": [*SYNC_FILTER["room"]["timeline"]["types"], *sorted(self.room_event_types)]}
        return {**SYNC_FILTER, "room": {**SYNC_FILTER["room"], "timeline": timeline}}

    async def upload_filter(self) -> str:
        resp = await self.client.upload_filter(**self.sync_filter())
        if isinstance(resp, nio.UploadFilterError):
            raise RuntimeError(f"filter upload failed: {resp.message}")
        self._keep_filter_id(resp.filter_id)
        return resp.filter_id

    def _keep_filter_id(self, filter_id: str) -> None:
        """For the next start's early sync. Synapse gives the same filter the same id, so the
        file changes only when the filter does (a feature declaring another room event)."""
        path = self.store_path / FILTER_ID_FILE
        try:
            if path.read_text() == filter_id:
                return
        except OSError:
            pass
        path.write_text(filter_id)

    async def sync(self, since: str | None, filter_id: str, *, full_state: bool, timeout_ms: int) -> SyncBatch:
        """One sync. Every network fault, including the homeserver cutting the open long poll
        (aiohttp's ServerDisconnectedError, not an OSError), comes out as a ConnectionError."""
        try:
            return await self._sync(since, filter_id, full_state=full_state, timeout_ms=timeout_ms)
        except aiohttp.ClientError as exc:
            raise ConnectionError(f"sync failed: {type(exc).__name__}") from exc

    async def _sync(self, since: str | None, filter_id: str, *, full_state: bool, timeout_ms: int) -> SyncBatch:
        epoch = self.key_work.upload_epoch  # odd while an upload is under way
        resp = await self._early_response(since, filter_id) if full_state else None
        # Its one-time key count is from before the login's key upload, if there was one.
        counts_fresh = resp is None or not self._keys_uploaded_at_login
        if resp is None:
            resp = await self.client.sync(timeout=timeout_ms, sync_filter=filter_id, since=since,
                                          full_state=full_state)
        if isinstance(resp, nio.SyncError):
            raise ConnectionError(f"sync failed: {resp.status_code} {resp.message}")
        batch = SyncBatch(next_batch=resp.next_batch)
        batch.new_room_keys = any(
            isinstance(e, (nio.RoomKeyEvent, nio.ForwardedRoomKeyEvent)) for e in resp.to_device_events
        )
        for room_id, info in resp.rooms.invite.items():
            batch.invites.append(self._invite(room_id, info))
        batch.left_rooms = list(resp.rooms.leave)
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and since and info.timeline.prev_batch and not joined_now(events, self.user_id):
                events = await fill_gap(self.client, room_id, info.timeline.prev_batch, since) + events
            collect(batch, room_id, events, self.room_event_types)
        # Beside the handling of the batch and the next sync (bot/matrix/keywork.py).
        self.key_work.kick(counts_fresh=counts_fresh and epoch % 2 == 0 and epoch == self.key_work.upload_epoch)
        async with self.synced:
            self.synced.notify_all()
        return batch

    async def _early_response(self, since: str | None, filter_id: str) -> nio.SyncResponse | None:
        """The early sync's response, taken in by nio as client.sync() would, if it answers the
        very request this sync would send (once: later syncs ask for themselves)."""
        early, self.early_sync = self.early_sync, None
        if early is None:
            return None
        c = self.client
        why_not = early.differs(homeserver=self.cfg.homeserver, user_id=c.user_id, device_id=c.device_id,
                                access_token=c.access_token, since=since, filter_id=filter_id)
        if why_not is None:
            asked = time.monotonic()
            try:
                resp = nio.SyncResponse.from_dict(json.loads(await early.body()))
            except (EarlySyncFailed, ValueError) as exc:
                why_not = str(exc) if isinstance(exc, EarlySyncFailed) else "not JSON"
            else:
                if isinstance(resp, nio.SyncResponse):
                    await c.receive_response(resp)
                    # waited_s: for the homeserver, once the bot was ready to sync (0: all hidden)
                    log.info("first sync fetched at start", extra={"waited_s": round(early.waited_s(asked), 3)})
                    return resp
                why_not = "not a sync response"
        log.info("first sync fetched at start not used; asking again", extra={"reason": why_not})
        return None

    def _invite(self, room_id: str, info: Any) -> Invite:
        inviter, is_direct = None, False
        for event in info.invite_state:
            if isinstance(event, nio.InviteMemberEvent) and event.state_key == self.client.user_id:
                inviter = event.sender
                is_direct = bool(event.content.get("is_direct"))
        return Invite(room_id, inviter, is_direct)

    async def wait_for_room(self, room_id: str, timeout: float = 30, *, encrypted: bool = False) -> bool:
        """Until a sync has brought the room (and, with encrypted, its m.room.encryption event:
        a sync can return a new room half-made, before that event, and nio would then send in
        the clear)."""
        def ready() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and (room.encrypted or not encrypted)

        async def known() -> None:
            async with self.synced:
                await self.synced.wait_for(ready)
        try:
            await asyncio.wait_for(known(), timeout)
            return True
        except TimeoutError:
            return False

    # ---- sending -----------------------------------------------------------------------
    async def send(self, room_id: str, content: dict[str, Any], txn_id: str,
                   event_type: str = "m.room.message") -> SendOutcome:
        """Send once; Matrix deduplicates a retry with the same transaction id."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return SendOutcome("retry", retry_after=1.0, error="room not known from sync yet")
        if room.encrypted:
            await self.key_work.done()  # the room key goes to every current device
        elif room_id in self.encrypted_by_us:
            # A room this bot created encrypted, brought by a sync half-made (before its
            # m.room.encryption event): nio would send in the clear. Wait for the event.
            return SendOutcome("retry", retry_after=0.5, error="room encryption not synced yet")
        try:
            resp = await self.client.room_send(room_id, event_type, content, tx_id=txn_id,
                                               ignore_unverified_devices=True)
        except (aiohttp.ClientError, TimeoutError, nio.SendRetryError) as exc:
            return SendOutcome("retry", retry_after=0, error=type(exc).__name__)
        return self._outcome(resp)

    @staticmethod
    def _outcome(resp: Any) -> SendOutcome:
        if isinstance(resp, nio.RoomSendResponse):
            return SendOutcome("ok", event_id=resp.event_id)
        code = getattr(resp, "status_code", None)
        if code == "M_LIMIT_EXCEEDED":
            return SendOutcome("retry", retry_after=(getattr(resp, "retry_after_ms", None) or 1000) / 1000,
                               error=code)
        transport = getattr(resp, "transport_response", None)
        if transport is not None and transport.status >= 500:
            return SendOutcome("retry", error=f"http {transport.status}")
        return SendOutcome("failed", error=f"{code}: {getattr(resp, 'message', '')}"[:200])

    async def create_dm(self, user_id: str, *, encrypted: bool) -> str:
        initial_state = [nio.EnableEncryptionBuilder().as_dict()] if encrypted else []
        resp = await self.client.room_create(
            is_direct=True, invite=[user_id], preset=nio.RoomPreset.trusted_private_chat,
            initial_state=initial_state,
        )
        if isinstance(resp, nio.RoomCreateError):
            raise ConnectionError(f"could not open a DM: {resp.status_code}")
        if encrypted:
            self.encrypted_by_us.add(resp.room_id)
        if not await self.wait_for_room(resp.room_id, encrypted=encrypted):
            raise ConnectionError(f"the new DM {resp.room_id} did not come back from sync in time")
        if encrypted:
            await self._know_devices_of(resp.room_id, user_id)
        return resp.room_id

    async def _know_devices_of(self, room_id: str, user_id: str) -> None:
        """The person is only invited when the bot writes first: fetch their devices now, or the
        room key would be shared with nobody and the first message stay unreadable to them."""
        room = self.client.rooms.get(room_id)
        if room is None or self.client.olm is None:
            return
        if user_id not in room.users:
            room.add_member(user_id, None, None, invited=True)
        self.client.olm.update_tracked_users(room)
        if self.client.should_query_keys:
            await self.client.keys_query()

    async def join(self, room_id: str) -> bool:
        resp = await self.client.join(room_id)
        return isinstance(resp, nio.JoinResponse)

    async def leave(self, room_id: str) -> None:
        await self.client.room_leave(room_id)

    async def upload(self, room_id: str, data: bytes, mimetype: str, filename: str) -> dict[str, Any]:
        """The content keys of a file for this room: an encrypted attachment into an encrypted room.
        The same file is uploaded once and reused (bot/uploads.py)."""
        room = self.client.rooms.get(room_id)
        encrypt = bool(room and room.encrypted) or room_id in self.encrypted_by_us
        return await self.uploads.content_keys(data, mimetype, filename, encrypt=encrypt)

    async def upload_path(self, room_id: str, path: Path, mimetype: str, filename: str) -> dict[str, Any]:
        """Like upload, for a file on disk: read and (for an encrypted room) encrypted in chunks
        by nio as it goes out, never whole in memory; not shared between messages."""
        room = self.client.rooms.get(room_id)
        encrypt = bool(room and room.encrypted) or room_id in self.encrypted_by_us
        with path.open("rb") as f:
            resp, keys = await self.client.upload(f, content_type=mimetype, filename=filename, encrypt=encrypt,
                                                  filesize=path.stat().st_size)
        if isinstance(resp, nio.UploadError):
            raise ConnectionError(f"upload failed: {resp.message}")
        return {"file": {**keys, "url": resp.content_uri, "mimetype": mimetype}} if encrypt else {"url": resp.content_uri}

    async def reachable(self) -> bool:
        try:
            async with aiohttp.ClientSession() as session:
                url = f"{self.cfg.homeserver}/_matrix/client/versions"
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def close(self) -> None:
        await self.key_work.close()
        await self.client.close()
