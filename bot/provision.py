"""At start, make sure every network has its Space, lobby, announcements room and coordinators'
control room, with the members invited and coordinators given moderator power.

Idempotent: each room is recorded in network_rooms as soon as it exists and carries a custom
state event (org.kring.room) naming its network and kind, so a restart (or a crash between
creating and recording) finds it again instead of creating a second one. A recorded room the bot
is no longer in is rejoined when it can be; otherwise it is reported in the log and the control
room and replaced once (the replacement is recorded, so it is not replaced again)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.chat import OutboxChat
from bot.config import Config, NetworkConfig, as_dict
from api.i18n import Translator
from bot.matrix.gateway import MatrixGateway
from api.rooms import choose_room_version, level_for, power_levels
from storage import members, networks, polls
from storage.database import Database

log = logging.getLogger("kring.provision")
MARKER = "org.kring.room"
ORDER = ("space", "control", "lobby", "announcements")
CHILDREN = ("lobby", "announcements")
HISTORY_CONTROL = "joined"  # who joins the control room later does not read what was said before


@dataclass(frozen=True)
class Finding:
    network: str
    kind: str
    outcome: str  # ok, found, created, rejoined, replaced
    room_id: str


class Provisioner:
    def __init__(self, db: Database, gateway: MatrixGateway, config: Config, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.gateway = gateway
        self.config = config
        self.clock = clock
        self.server = config.matrix.user_id.split(":", 1)[1]
        self._markers: dict[tuple[str, str], str] | None = None

    async def run(self) -> list[Finding]:
        default, available = await self.gateway.room_versions()
        self.version, self.restricted = choose_room_version(default, available)
        if not self.restricted:
            log.warning("the homeserver offers no room version with the restricted join rule: open rooms "
                        "are invite-only and the bot's roster decides", extra={"room_version": default})
        self.joined = await self.gateway.joined_rooms()
        findings: list[Finding] = []
        for net in self.config.effective_networks():
            findings += await self._network(net)
        return findings

    # ---- one network ---------------------------------------------------------------------
    async def _network(self, net: NetworkConfig) -> list[Finding]:
        now = self.clock()
        async with self.db.transaction() as session:
            row, rules_changed = await networks.upsert(
                session, net.id, name=net.name, language=net.language, timezone=net.timezone,
                house_rules=net.house_rules, auto_approve=as_dict(net.auto_approve), now=now,
                reminder_offsets=",".join(str(m) for m in net.reminder_minutes()))
            if rules_changed:
                await self._ask_rules_again(session, net, row.rules_version, now)
            await polls.configure(session, net.id, members_may_poll=net.polls.members_may_create,
                                  topic_votes=net.polls.topic_votes)
            coordinators = await members.with_role(session, net.id, "coordinator")
            roster = {m.user_id: ms.role for m, ms in await members.listing(session, net.id) if ms.state == "active"}
        findings = [await self._room(net, kind, coordinators) for kind in ORDER]
        changed = any(f.outcome != "ok" for f in findings)
        rooms = {f.kind: f.room_id for f in findings}
        await self._wire(net, rooms, changed)
        fresh = {f.kind for f in findings if f.outcome in ("created", "replaced")}
        await self._topics(net, rooms, fresh)
        if "control" not in fresh:
            await self._close_history(rooms["control"])
        await self._roster(net, rooms, roster, fresh)
        await self._report(net, rooms, [f for f in findings if f.outcome in ("rejoined", "replaced")],
                           control_is_new="control" in fresh)
        for f in findings:
            log.info("network room", extra={"network": f.network, "kind": f.kind, "outcome": f.outcome,
                                            "room_id": f.room_id})
        return findings

    async def _room(self, net: NetworkConfig, kind: str, coordinators: list[str]) -> Finding:
        async with self.db.transaction() as session:
            stored = await networks.room(session, net.id, kind)
            space_id = await networks.room_id(session, net.id, "space")
        if stored and stored.room_id in self.joined:
            return Finding(net.id, kind, "ok", stored.room_id)
        if stored:
            if await self.gateway.join(stored.room_id):
                self.joined.add(stored.room_id)
                log.warning("rejoined a network room the bot had left", extra={"network": net.id, "kind": kind})
                return Finding(net.id, kind, "rejoined", stored.room_id)
            log.error("a network room is lost (deleted, or the bot was removed); replacing it once",
                      extra={"network": net.id, "kind": kind, "room_id": stored.room_id})
            async with self.db.transaction() as session:
                await networks.mark_room(session, net.id, kind, "lost", self.clock())
            room_id = await self._create(net, kind, coordinators, space_id)
            return Finding(net.id, kind, "replaced", room_id)
        found = (await self._find_markers()).get((net.id, kind))
        if found:
            async with self.db.transaction() as session:
                await networks.record_room(session, net.id, kind, found, None, self.clock())
            return Finding(net.id, kind, "found", found)
        return Finding(net.id, kind, "created", await self._create(net, kind, coordinators, space_id))

    async def _find_markers(self) -> dict[tuple[str, str], str]:
        """(network, kind) -> room id, from the marker state of the rooms the bot is in."""
        if self._markers is None:
            self._markers = {}
            for room_id in sorted(self.joined):
                marker = await self.gateway.get_state(room_id, MARKER)
                if marker and marker.get("network") and marker.get("kind"):
                    self._markers.setdefault((marker["network"], marker["kind"]), room_id)
        return self._markers

    async def _create(self, net: NetworkConfig, kind: str, coordinators: list[str], space_id: str | None) -> str:
        t = Translator(net.language or self.config.bot.language)
        state: list[dict[str, Any]] = [{"type": MARKER, "state_key": "", "content": {"network": net.id, "kind": kind}}]
        # The coordinators' room is closed: who joins later does not read what was said before.
        visibility = HISTORY_CONTROL if kind == "control" else "shared"
        state.append({"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": visibility}})
        if kind in CHILDREN and space_id:
            state.append({"type": "m.space.parent", "state_key": space_id,
                          "content": {"via": [self.server], "canonical": True}})
            state.append({"type": "m.room.join_rules", "state_key": "", "content": self._join_rule(space_id)})
        encrypted = net.encrypted if net.encrypted is not None else self.config.matrix.encryption
        if encrypted and kind != "space":
            state.append({"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
        room_id = await self.gateway.create_room(
            name=t(f"rooms.{kind}.name", network=net.name).plain, topic=t(f"rooms.{kind}.topic", network=net.name).plain,
            room_version=self.version, space=kind == "space", initial_state=state,
            power_levels=power_levels(kind, self.version, self.gateway.user_id, coordinators),
        )
        self.joined.add(room_id)
        async with self.db.transaction() as session:
            await networks.record_room(session, net.id, kind, room_id, self.version, self.clock())
        log.info("created a network room", extra={"network": net.id, "kind": kind, "room_id": room_id})
        return room_id

    async def _topics(self, net: NetworkConfig, rooms: dict[str, str], fresh: set[str]) -> None:
        """A room made by an older version keeps the topic it was given: set today's, which
        promises only what the bot does (no polls or case queue before they exist)."""
        t = Translator(net.language or self.config.bot.language)
        for kind, room_id in rooms.items():
            if kind not in fresh:
                await self._bring_up_to_date(room_id, "m.room.topic",
                                             {"topic": t(f"rooms.{kind}.topic", network=net.name).plain})

    async def _close_history(self, room_id: str) -> None:
        """A control room made before its history became "joined" would show a newly promoted
        coordinator every earlier join request: bring it to "joined" (from now on)."""
        await self._bring_up_to_date(room_id, "m.room.history_visibility", {"history_visibility": HISTORY_CONTROL})

    async def _bring_up_to_date(self, room_id: str, event_type: str, content: dict[str, Any]) -> None:
        """Set a state event of an existing room unless it already holds these values."""
        current = await self.gateway.get_state(room_id, event_type) or {}
        if any(current.get(key) != value for key, value in content.items()):
            outcome = await self.gateway.put_state(room_id, event_type, content)
            log.log(logging.INFO if outcome.status == "ok" else logging.WARNING, "room state brought up to date",
                    extra={"room_id": room_id, "type": event_type, "outcome": outcome.status})

    def _join_rule(self, space_id: str) -> dict[str, Any]:
        if not self.restricted:
            return {"join_rule": "invite"}
        return {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space_id}]}

    async def _wire(self, net: NetworkConfig, rooms: dict[str, str], changed: bool) -> None:
        """The Space lists the open rooms; they point back and admit the Space's members."""
        if not changed:
            return
        space = rooms["space"]
        for order, kind in enumerate(CHILDREN):
            await self.gateway.put_state(space, "m.space.child",
                                         {"via": [self.server], "suggested": True, "order": f"{order:02d}"}, rooms[kind])
            await self.gateway.put_state(rooms[kind], "m.space.parent", {"via": [self.server], "canonical": True}, space)
            await self.gateway.put_state(rooms[kind], "m.room.join_rules", self._join_rule(space))

    async def _roster(self, net: NetworkConfig, rooms: dict[str, str], roster: dict[str, str], fresh: set[str]) -> None:
        """Invite active members who were never in a room (all of them in a new room), and give
        coordinators their power. People who left a room on their own are not invited again."""
        invites: list[tuple[str, str]] = []
        powers: list[tuple[str, str, int]] = []
        # The rooms' members and power levels, asked for all at once (a start waits for them).
        known_rooms = [(kind, room_id) for kind, room_id in rooms.items() if kind not in fresh]
        asked = await asyncio.gather(*(call for _, room_id in known_rooms for call in (
            self.gateway.memberships(room_id), self.gateway.get_state(room_id, "m.room.power_levels"))))
        facts = {kind: (asked[2 * i], asked[2 * i + 1]) for i, (kind, _) in enumerate(known_rooms)}
        for kind, room_id in rooms.items():
            wanted = {u: r for u, r in roster.items() if kind != "control" or r == "coordinator"}
            wanted.pop(self.gateway.user_id, None)
            known, levels = facts.get(kind, ({}, None))
            invites += [(room_id, u) for u in sorted(wanted) if u not in known]
            if kind in fresh:
                continue  # created with the coordinators' power levels already
            levels = (levels or {}).get("users", {})
            powers += [(room_id, u, level_for(r)) for u, r in sorted(wanted.items()) if level_for(r) > levels.get(u, 0)]
        if not invites and not powers:
            return
        async with self.db.transaction() as session:
            chat = OutboxChat(session, self.clock())
            for room_id, user_id in invites:
                await chat.invite(room_id, user_id)
            for room_id, user_id, level in powers:
                await chat.set_power(room_id, user_id, level)

    async def _ask_rules_again(self, session, net: NetworkConfig, version: int, now: datetime) -> None:  # noqa: ANN001
        chat = OutboxChat(session, now)
        for user_id in await members.pending_rules(session, net.id, version):
            member = await members.get(session, user_id)
            t = Translator((member.language if member else None) or net.language or self.config.bot.language)
            rules = net.house_rules or t("membership.default_rules").plain
            await chat.dm(user_id, t("membership.rules_changed", network=net.name, rules=rules,
                                     prefix=self.config.bot.command_prefix))

    async def _report(self, net: NetworkConfig, rooms: dict[str, str], problems: list[Finding], *,
                      control_is_new: bool) -> None:
        """Tell the coordinators, in their room; but a control room made just now has no one in it
        yet and shows newcomers nothing said before they joined (history_visibility "joined"), so
        then each coordinator hears it in their DM with the bot."""
        if not problems:
            return
        t = Translator(net.language or self.config.bot.language)
        async with self.db.transaction() as session:
            chat = OutboxChat(session, self.clock())
            coordinators = await members.with_role(session, net.id, "coordinator") if control_is_new else []
            for f in problems:
                text = t(f"provision.{f.outcome}", network=net.name, kind=t(f"rooms.{f.kind}.label"))
                if not control_is_new:
                    await chat.send(rooms["control"], text)
                for user_id in coordinators:
                    await chat.dm(user_id, text)
