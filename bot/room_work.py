"""What the outbox does besides sending messages: creating a private room exactly once, the room
operations (invites, kicks, power levels, state, leaving, redactions, pins) and sending a file
kept in the vault. The outbox (bot/outbox.py) decides when; this module does one attempt."""
from __future__ import annotations

import logging

from api.files import Vault
from api.rooms import SESSION_MARKER, session_power_levels
from bot.chat import INVITE, KICK, LEAVE, LEVELS, PIN, POWER, REDACT, STATE
from bot.matrix.gateway import MatrixGateway, SendOutcome
from storage import outbox
from storage.database import Database
from storage.models import OutboxItem

log = logging.getLogger("kring.outbox")


class RoomWork:
    def __init__(self, db: Database, gateway: MatrixGateway, vault: Vault | None) -> None:
        self.db = db
        self.gateway = gateway
        self.vault = vault  # where a kept file (KEPT_FILE) is read from when it is sent
        self.invited: dict[int, list[str]] = {}  # room item id -> who its room was created with

    async def send_kept(self, room_id: str, item: OutboxItem) -> SendOutcome:
        """A file from the vault: decrypted to a private temporary file, uploaded from it in chunks
        (encrypted for the room on the way), the temporary file removed whatever happens."""
        p = item.payload
        if self.vault is None:
            return SendOutcome("failed", error="no file vault")
        folder = self.vault.folder.parent / "outgoing"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        plain = folder / f"out-{item.id}"
        try:
            try:
                size = self.vault.decrypt_to(p["handle"], plain)
            except FileNotFoundError:
                return SendOutcome("failed", error="file no longer kept")  # erased meanwhile: never sent
            keys = await self.gateway.upload_path(room_id, plain, p["mimetype"], p["filename"])
        finally:
            plain.unlink(missing_ok=True)
        content = {"msgtype": "m.file", "body": p["filename"], "info": {"mimetype": p["mimetype"], "size": size}, **keys}
        return await self.gateway.send(room_id, content, item.txn_id)

    async def operation(self, room_id: str, item: OutboxItem) -> SendOutcome:
        """Invites, kicks, power levels, state and leaving: each is idempotent, so a retry is safe."""
        p = item.payload
        if item.kind == INVITE:
            return await self.gateway.invite(room_id, p["user_id"])
        if item.kind == KICK:
            return await self.gateway.kick(room_id, p["user_id"], p.get("reason"))
        if item.kind == POWER:
            return await self.gateway.set_power(room_id, p["user_id"], int(p["level"]))
        if item.kind == STATE:
            return await self.gateway.put_state(room_id, p["type"], p["content"], p.get("state_key", ""))
        if item.kind == LEAVE:
            return await self.gateway.leave_room(room_id)
        if item.kind == LEVELS:
            return await self.gateway.set_levels(room_id, {k: int(v) for k, v in p["levels"].items()})
        if item.kind == REDACT:
            return await self.gateway.redact(room_id, p["event_id"], p.get("reason"), item.txn_id)
        if item.kind == PIN:
            return await self._pin(room_id, int(p["item"]))
        return SendOutcome("failed", error=f"unknown outbox kind {item.kind}")

    async def create(self, item: OutboxItem) -> SendOutcome:
        """Create a private room once. An attempt is counted in the table before the homeserver is
        asked; a later attempt (after a crash or a lost answer) first looks for the room the earlier
        one may have made, by the marker state carrying this row's transaction id."""
        p = item.payload
        async with self.db.transaction() as session:
            row = await session.get(OutboxItem, item.id)
            tried = bool(row and row.attempts)
            await outbox.note_attempt(session, item.id)
        if tried:
            found = await self.gateway.find_marked_room(SESSION_MARKER, item.txn_id, await self._known_rooms())
            if found:
                members = await self.gateway.memberships(found)
                self.invited[item.id] = sorted(u for u, m in members.items()
                                                if m in ("invite", "join") and u != self.gateway.user_id)
                log.warning("found the room an earlier attempt made", extra={"item": item.id, "room_id": found})
                return SendOutcome("ok", event_id=found)
        version = await self.gateway.default_room_version()
        outcome = await self.gateway.create_private_room(
            name=p["name"], topic=p["topic"], room_version=version, marker_type=SESSION_MARKER,
            marker={**p["marker"], "token": item.txn_id},
            power_levels=session_power_levels(version, self.gateway.user_id, p["moderators"]), invite=p["invite"])
        if outcome.status == "ok":
            self.invited[item.id] = list(p["invite"])
        elif outcome.status == "failed" and p["invite"] and "invite" in (outcome.error or "").lower():
            # The homeserver refuses this many invites with a creation: create first, invite after.
            log.warning("room creation refused its invites; inviting one by one", extra={"item": item.id})
            item.payload = {**p, "invite": []}
            return SendOutcome("retry", retry_after=0.01, error=outcome.error)
        return outcome

    async def _known_rooms(self) -> set[str]:
        """Rooms recorded for something already: a marked room among them is not the one sought."""
        async with self.db.read() as session:
            return await outbox.recorded_rooms(session)

    async def _pin(self, room_id: str, item_id: int) -> SendOutcome:
        """Add the event sent for outbox row `item_id` to the room's pinned events (kept: the
        others already pinned; a retry finds it pinned and changes nothing)."""
        async with self.db.read() as session:
            event_id = await outbox.event_id_of(session, item_id)
        if event_id is None:
            return SendOutcome("failed", error="the message to pin was not sent")
        current = await self.gateway.get_state(room_id, "m.room.pinned_events") or {}
        pinned = [e for e in current.get("pinned", []) if isinstance(e, str)]
        if event_id in pinned:
            return SendOutcome("ok")
        return await self.gateway.put_state(room_id, "m.room.pinned_events", {"pinned": [*pinned, event_id]})
