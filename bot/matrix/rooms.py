"""Room administration on the homeserver for MatrixGateway (bot/matrix/gateway.py): the network rooms
the bot creates, their state and power levels, invites, kicks and leaving. Kept apart only to keep
matrix.py small; like it, this is the nio side of the bot."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import nio


@dataclass(frozen=True)
class SendOutcome:
    """ok; retry (after retry_after seconds, e.g. M_LIMIT_EXCEEDED or a network error); failed."""

    status: str
    event_id: str | None = None
    retry_after: float = 0.0
    error: str | None = None


def creators_privileged(room_version: str) -> bool:
    """Room version 12 (MSC4289) on: creators have unlimited power and must not be in power levels."""
    return room_version == "org.matrix.hydra.11" or (room_version.isdigit() and int(room_version) >= 12)


def _forbidden_because(resp: Any, words: str) -> bool:
    """A refusal that means the wanted state is already there ("already in the room")."""
    return resp.status_code == "M_FORBIDDEN" and words in (resp.message or "").lower()


class RoomAdmin:
    """Mixed into MatrixGateway, which provides `client`, `cfg`, `user_id` and `_outcome`."""

    client: nio.AsyncClient
    encrypted_by_us: set[str]

    async def room_versions(self) -> tuple[str, dict[str, str]]:
        """The homeserver's default room version and the versions it offers (id -> stable/unstable)."""
        caps = await self._get_json("/_matrix/client/v3/capabilities")
        versions = (caps or {}).get("capabilities", {}).get("m.room_versions")
        if not versions or "default" not in versions:
            raise ConnectionError("the homeserver did not say which room versions it supports")
        return str(versions["default"]), dict(versions.get("available", {}))

    async def create_room(self, *, name: str, topic: str, room_version: str, space: bool = False,
                          initial_state: list[dict[str, Any]], power_levels: dict[str, Any]) -> str:
        """Create a private room (or Space) with its full initial state; raises ConnectionError."""
        while True:
            resp = await self.client.room_create(
                name=name, topic=topic, room_version=room_version, space=space,
                preset=nio.RoomPreset.private_chat, initial_state=initial_state,
                power_level_override=power_levels,
            )
            if isinstance(resp, nio.RoomCreateResponse):
                if any(event.get("type") == "m.room.encryption" for event in initial_state):
                    self.encrypted_by_us.add(resp.room_id)
                return resp.room_id
            if resp.status_code == "M_LIMIT_EXCEEDED":
                await asyncio.sleep((resp.retry_after_ms or 1000) / 1000)
                continue
            raise ConnectionError(f"could not create a room: {resp.status_code} {resp.message}")

    async def default_room_version(self) -> str:
        """The homeserver's default room version (asked once)."""
        if getattr(self, "_default_version", None) is None:
            self._default_version, _available = await self.room_versions()
        return self._default_version

    async def create_private_room(self, *, name: str, topic: str, room_version: str, marker_type: str,
                                  marker: dict[str, Any], power_levels: dict[str, Any], invite: list[str],
                                  encrypted: bool = True) -> SendOutcome:
        """One createRoom call: invite-only, history visible to members from their joining on, not
        in the directory, encrypted, carrying the marker state event; `invite` invited with it.
        ok (event_id = the room id), retry (429, network) or failed."""
        initial_state: list[dict[str, Any]] = [
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "invite"}},
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}},
            {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
            {"type": marker_type, "state_key": "", "content": marker},
        ]
        if encrypted:
            initial_state.append(nio.EnableEncryptionBuilder().as_dict())
        outcome = await self._request(self.client.room_create(
            visibility=nio.RoomVisibility.private, name=name, topic=topic, room_version=room_version,
            preset=nio.RoomPreset.private_chat, initial_state=initial_state, power_level_override=power_levels,
            invite=invite), nio.RoomCreateResponse, ident="room_id")
        if outcome.status == "ok" and encrypted:
            self.encrypted_by_us.add(outcome.event_id)
        return outcome

    async def find_marked_room(self, marker_type: str, token: str, skip: set[str]) -> str | None:
        """A room the bot is in (other than `skip`) whose marker state carries `token`: the room
        an earlier attempt created before the bot could record it (a crash in between)."""
        for room_id in sorted(await self.joined_rooms() - skip):
            marker = await self.get_state(room_id, marker_type)
            if marker and marker.get("token") == token:
                return room_id
        return None

    async def set_levels(self, room_id: str, levels: dict[str, int]) -> SendOutcome:
        """Read-modify-write of top-level power-level settings (events_default, invite, ...)."""
        current = await self.get_state(room_id, "m.room.power_levels")
        if current is None:
            return SendOutcome("failed", error="no power levels visible")
        if all(current.get(key) == value for key, value in levels.items()):
            return SendOutcome("ok")
        return await self.put_state(room_id, "m.room.power_levels", {**current, **levels})

    async def joined_rooms(self) -> set[str]:
        resp = await self.client.joined_rooms()
        if isinstance(resp, nio.JoinedRoomsError):
            raise ConnectionError(f"could not list joined rooms: {resp.status_code}")
        return set(resp.rooms)

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any] | None:
        """The content of one state event, or None when it is not set (or the bot cannot see it)."""
        resp = await self.client.room_get_state_event(room_id, event_type, state_key)
        if isinstance(resp, nio.RoomGetStateEventResponse):
            return resp.content
        if resp.status_code in ("M_NOT_FOUND", "M_FORBIDDEN"):
            return None
        raise ConnectionError(f"could not read {event_type} in {room_id}: {resp.status_code}")

    async def memberships(self, room_id: str) -> dict[str, str]:
        """user id -> membership (join, invite, leave, ban, knock) from the room's current state."""
        resp = await self.client.room_get_state(room_id)
        if isinstance(resp, nio.RoomGetStateError):
            raise ConnectionError(f"could not read the members of {room_id}: {resp.status_code}")
        return {e["state_key"]: e["content"].get("membership", "leave")
                for e in resp.events if e.get("type") == "m.room.member"}

    async def put_state(self, room_id: str, event_type: str, content: dict[str, Any],
                        state_key: str = "") -> SendOutcome:
        return await self._request(self.client.room_put_state(room_id, event_type, content, state_key),
                                   nio.RoomPutStateResponse, ident="event_id")

    async def set_power(self, room_id: str, user_id: str, level: int) -> SendOutcome:
        """Read-modify-write of one user's level. Never lists a room creator (room version 12)."""
        current = await self.get_state(room_id, "m.room.power_levels")
        if current is None:
            return SendOutcome("failed", error="no power levels visible")
        create = await self.get_state(room_id, "m.room.create") or {}
        creators = {create.get("creator") or self.user_id, *create.get("additional_creators", [])}
        users = dict(current.get("users", {}))
        if user_id in creators and creators_privileged(str(create.get("room_version", "1"))):
            return SendOutcome("ok")  # unlimited power already; listing them would be refused
        if level == current.get("users_default", 0):
            users.pop(user_id, None)
        else:
            users[user_id] = level
        if users == current.get("users", {}):
            return SendOutcome("ok")
        return await self.put_state(room_id, "m.room.power_levels", {**current, "users": users})

    async def invite(self, room_id: str, user_id: str) -> SendOutcome:
        """Invite; a person already in the room (or invited) counts as done."""
        return await self._request(self.client.room_invite(room_id, user_id), nio.RoomInviteResponse,
                                   done=lambda resp: _forbidden_because(resp, "already"))

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> SendOutcome:
        """Remove someone (also withdraws an invite); someone no longer there counts as done."""
        return await self._request(self.client.room_kick(room_id, user_id, reason), nio.RoomKickResponse,
                                   done=lambda resp: _forbidden_because(resp, "not in the room"))

    async def redact(self, room_id: str, event_id: str, reason: str | None, txn_id: str) -> SendOutcome:
        """Redact an event; one already gone (or never known) counts as done."""
        return await self._request(self.client.room_redact(room_id, event_id, reason, tx_id=txn_id),
                                   nio.RoomRedactResponse, done=lambda resp: resp.status_code == "M_NOT_FOUND")

    async def leave_room(self, room_id: str) -> SendOutcome:
        return await self._request(self.client.room_leave(room_id), nio.RoomLeaveResponse)

    async def _request(self, call: Awaitable[Any], ok: type, *, done: Callable[[Any], bool] = lambda resp: False,
                       ident: str | None = None) -> SendOutcome:
        """One homeserver request as an outcome: ok for an `ok` response (event_id its attribute
        `ident`) or an error that `done` says leaves things as wanted (someone already invited);
        retry on a network error; else as _outcome judges the error (429 and 5xx retry)."""
        try:
            resp = await call
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendOutcome("retry", error=type(exc).__name__)
        if isinstance(resp, ok):
            return SendOutcome("ok", event_id=getattr(resp, ident) if ident else None)
        if done(resp):
            return SendOutcome("ok")
        return self._outcome(resp)

    async def _get_json(self, path: str) -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{self.cfg.homeserver}{path}", headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    return await resp.json() if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            return None

