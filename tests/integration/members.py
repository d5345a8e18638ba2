"""A member on a real nio client (plain or with E2EE) that records every message it sees,
so tests wait for events instead of sleeping."""
from __future__ import annotations

import asyncio
import uuid
from unittest import mock
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nio


@dataclass
class Seen:
    room_id: str
    event_id: str
    sender: str
    content: dict[str, Any]
    encrypted: bool
    type: str = "m.room.message"


class NioMember:
    def __init__(self, homeserver: str, user_id: str, password: str, store: Path | None = None) -> None:
        self.password = password
        config = nio.AsyncClientConfig(encryption_enabled=store is not None, store_sync_tokens=False)
        if store:
            store.mkdir(parents=True, exist_ok=True)
        self.client = nio.AsyncClient(homeserver, user_id, store_path=str(store) if store else "", config=config)
        self.seen: list[Seen] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self.client.add_event_callback(self._on_message, (nio.RoomMessage, nio.MegolmEvent, nio.UnknownEvent))
        self.client.add_event_callback(self._on_invite, nio.InviteMemberEvent)
        self.client.add_event_callback(self._on_member, nio.RoomMemberEvent)
        self.memberships: dict[tuple[str, str], str] = {}  # (room, user) -> last membership seen

    @property
    def user_id(self) -> str:
        return self.client.user_id

    async def start(self) -> NioMember:
        resp = await self.client.login(self.password, device_name="test member")
        assert isinstance(resp, nio.LoginResponse), resp
        await self.client.sync(timeout=0, full_state=True)
        if self.client.olm and self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.create_task(self.client.sync_forever(timeout=5000))
        return self

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

    async def _on_message(self, room: nio.MatrixRoom, event: Any) -> None:
        content = event.source.get("content", {})
        if isinstance(event, nio.MegolmEvent):
            content = {"undecryptable": True}
        elif getattr(event, "decrypted", False):
            content = dict(event.source.get("content", {}))
        async with self._changed:
            self.seen.append(Seen(room.room_id, event.event_id, event.sender, content,
                                  bool(getattr(event, "decrypted", False)),
                                  getattr(event, "type", None) or event.source.get("type", "m.room.message")))
            self._changed.notify_all()

    async def _on_member(self, room: nio.MatrixRoom, event: nio.RoomMemberEvent) -> None:
        async with self._changed:
            self.memberships[(room.room_id, event.state_key)] = event.membership
            self._changed.notify_all()

    async def wait_membership(self, room_id: str, user_id: str, wanted: str, timeout: float = 30) -> None:
        """Until this member's sync brings `user_id`'s membership `wanted` in a room it is in."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(
                lambda: self.memberships.get((room_id, user_id)) == wanted), timeout)

    async def _on_invite(self, room: nio.MatrixRoom, event: nio.InviteMemberEvent) -> None:
        if event.state_key == self.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def dm(self, other: str, *, encrypted: bool) -> str:
        """Open a DM like a client does (is_direct invite) and wait until the other side joined."""
        initial = [nio.EnableEncryptionBuilder().as_dict()] if encrypted else []
        resp = await self.client.room_create(is_direct=True, invite=[other], initial_state=initial,
                                             preset=nio.RoomPreset.trusted_private_chat)
        assert isinstance(resp, nio.RoomCreateResponse), resp
        await self.wait_joined(resp.room_id, other)
        while resp.room_id not in self.client.rooms:  # nio encrypts only for rooms its sync knows
            await self.next_sync()
        return resp.room_id

    async def group_with(self, other: str, *, encrypted: bool) -> str:
        """A private group room (not a DM) with the other user in it."""
        initial = [nio.EnableEncryptionBuilder().as_dict()] if encrypted else []
        resp = await self.client.room_create(invite=[other], initial_state=initial, name="test group",
                                             preset=nio.RoomPreset.private_chat)
        assert isinstance(resp, nio.RoomCreateResponse), resp
        await self.wait_joined(resp.room_id, other)
        return resp.room_id

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        async def joined() -> bool:
            resp = await self.client.joined_members(room_id)
            return isinstance(resp, nio.JoinedMembersResponse) and any(m.user_id == user_id for m in resp.members)

        deadline = asyncio.get_running_loop().time() + timeout
        while not await joined():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{user_id} did not join {room_id}")
            await self.next_sync()

    async def next_sync(self) -> None:
        """Wait for the member's next sync to complete (an event to await, not a sleep)."""
        await asyncio.wait_for(self.client.synced.wait(), 10)

    async def _devices_known(self) -> None:
        """Fetch the device lists still to be fetched before encrypting, as a client does. nio's
        room_send fetches them only while the room's members are unsynced, and wait_joined's
        joined_members call marks them synced: a send before the sync loop's own key query then
        shared the room key with nobody else (the bot answered "could not decrypt")."""
        if self.client.olm is not None and self.client.should_query_keys:
            try:
                await self.client.keys_query()
            except nio.LocalProtocolError:
                pass  # the sync loop's query got there first: nothing left to fetch

    async def send(self, room_id: str, body: str, **extra: Any) -> str:
        content = {"msgtype": "m.text", "body": body, **extra}
        await self._devices_known()
        resp = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        assert isinstance(resp, nio.RoomSendResponse), resp
        return resp.event_id

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        """Any room event (a poll response), encrypted where the room is."""
        await self._devices_known()
        resp = await self.client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(resp, nio.RoomSendResponse), resp
        return resp.event_id

    async def send_with_late_key(self, room_id: str, body: str) -> tuple[str, Any]:
        """Send an encrypted message whose room key the recipients get only when the returned
        coroutine function is awaited, as when a to-device key message is delayed."""
        client = self.client
        client.invalidate_outbound_session(room_id)
        client.olm.create_outbound_group_session(room_id)
        session = client.olm.outbound_group_sessions[room_id]
        first_key = session.session_key  # the ratchet before the message: what a late key must carry
        session.shared = True
        _, encrypted = client.encrypt(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
        method, path, data = nio.Api.room_send(client.access_token, room_id, "m.room.encrypted", encrypted,
                                               uuid.uuid4())
        resp = await client._send(nio.RoomSendResponse, method, path, data, (room_id,))
        assert isinstance(resp, nio.RoomSendResponse), resp
        session.shared = False

        async def release() -> None:
            with mock.patch.object(type(session), "session_key", new_callable=mock.PropertyMock,
                                   return_value=first_key):
                await client.share_group_session(room_id, ignore_unverified_devices=True)

        return resp.event_id, release

    async def messages_from(self, sender: str, room_id: str, count: int, timeout: float = 30) -> list[Seen]:
        """Wait until `count` messages from `sender` in the room have been seen; return them."""

        def found() -> list[Seen]:
            return [s for s in self.seen if s.sender == sender and s.room_id == room_id]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), timeout)
        return found()

    async def message(self, sender: str, contains: str, room_id: str | None = None, *, since: int = 0, nth: int = 1,
                      type: str | None = None, timeout: float = 30) -> Seen:
        """The nth message from `sender` (in `room_id` and of event `type`, when given) whose body
        holds `contains`, among those seen after the first `since`; waits for it. On timeout the
        assertion shows what was seen instead."""

        def matches() -> list[Seen]:
            return [s for s in self.seen[since:] if s.sender == sender and contains in s.content.get("body", "")
                    and room_id in (None, s.room_id) and type in (None, s.type)]

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(matches()) >= nth), timeout)
        except TimeoutError:
            bodies = [s.content.get("body", "")[:200] for s in self.seen[since:] if room_id in (None, s.room_id)]
            raise AssertionError(f"no message from {sender} with {contains!r}; seen: {bodies[-20:]}") from None
        return matches()[nth - 1]

    def count(self, sender: str, contains: str, room_id: str) -> int:
        """How many messages from `sender` in the room, seen so far, hold `contains`."""
        return sum(1 for s in self.seen if s.sender == sender and s.room_id == room_id
                   and contains in s.content.get("body", ""))

    async def ask(self, room_id: str, body: str, contains: str, *, sender: str, timeout: float = 60) -> Seen:
        """Send `body`, then the first message from `sender` in the room after it holding `contains`."""
        since = len(self.seen)
        await self.send(room_id, body)
        return await self.message(sender, contains, room_id, since=since, timeout=timeout)

    async def in_room(self, room_id: str, timeout: float = 30) -> None:
        """Joined, and known to this member's client (it needs the room's state to encrypt for it)."""
        await self.wait_joined(room_id, self.user_id, timeout)
        while room_id not in self.client.rooms:
            await self.next_sync()

    async def first(self, predicate: Any, timeout: float = 30) -> Seen:
        """The first message seen (now or later) for which predicate(seen) is true."""

        def match() -> Seen | None:
            return next((s for s in self.seen if predicate(s)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: match() is not None), timeout)
        return match()

    async def reply_to(self, sender: str, room_id: str, event_id: str, timeout: float = 30) -> Seen:
        """The message from `sender` that answers `event_id` (by m.in_reply_to), or in a DM the next
        notice after it (a command's answer is a notice; what else the bot sends, a file or a message
        someone must not miss, is not)."""

        def match() -> Seen | None:
            asked = False  # in a DM the bot answers without a reply relation: the next notice after ours
            for s in self.seen:
                if s.event_id == event_id:
                    asked = True
                    continue
                if s.sender != sender or s.room_id != room_id:
                    continue
                rel = s.content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                if rel == event_id or (asked and rel is None and s.content.get("msgtype") == "m.notice"):
                    return s
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: match() is not None), timeout)
        return match()
