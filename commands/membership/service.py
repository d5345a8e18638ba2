"""Shared steps of the membership commands: which network a command is about, the per-network
coordinator check, and what joining, leaving or a role change does to the network's rooms."""
from __future__ import annotations

from api import Context, Role, UserError
from api.i18n import Translator
from api.render import Text, code
from api.rooms import level_for
from storage import members, networks
from storage.models import Network

OPEN_ROOMS = ("space", "lobby", "announcements")


async def network_named(ctx: Context, raw: str) -> Network:
    network = await networks.get(ctx.db, raw.strip().lower())
    if network is None:
        raise UserError("membership.unknown_network", value=raw[:40], choices=await choices(ctx))
    return network


async def choices(ctx: Context) -> Text:
    ids = [n.id for n in await networks.all_networks(ctx.db)]
    return Text(", ".join(ids), ", ".join(code(i).html for i in ids))


async def room_network(ctx: Context) -> Network | None:
    """The network whose room this command was typed in, if any."""
    where = await networks.network_of_room(ctx.db, ctx.room_id)
    return await networks.get(ctx.db, where[0]) if where else None


def require_coordinator(ctx: Context, network: Network, command: str) -> None:
    """Roles are per network: the router's check is on the caller's highest role anywhere."""
    if ctx.roles.get(network.id, Role.ANYONE) < Role.COORDINATOR:
        raise UserError("membership.not_coordinator_here", command=command, network=network.name)


async def coordinator_scope(ctx: Context, command: str, target: str | None = None,
                            states: tuple[str, ...] = (members.ACTIVE,)) -> Network:
    """The network a coordinator command acts on: the one whose room it is typed in; else the only
    network the caller coordinates (where the target has a row in one of `states`)."""
    here = await room_network(ctx)
    if here is not None:
        require_coordinator(ctx, here, command)
        return here
    mine = sorted(n for n, r in ctx.roles.items() if r >= Role.COORDINATOR)
    if target is not None:
        mine = [n for n in mine if (row := await members.membership(ctx.db, n, target)) and row.state in states]
    if len(mine) == 1:
        return await networks.get(ctx.db, mine[0])
    if not mine:
        raise UserError("membership.target_unknown", user=target or "?")
    raise UserError("membership.which_network", command=command, networks=", ".join(mine))


def house_rules(t: Translator, network: Network) -> str:
    return network.house_rules.strip() or t("membership.default_rules").plain


async def coordinator_count_ok(ctx: Context, network: Network, user_id: str, new_role: str | None) -> None:
    """Refuse a change that would leave the network without a coordinator."""
    from commands.membership.rules import loses_last_coordinator

    coordinators = await members.with_role(ctx.db, network.id, "coordinator")
    if loses_last_coordinator(coordinators, user_id, new_role):
        raise UserError("membership.last_coordinator", network=network.name)


async def admit(ctx: Context, network: Network, user_id: str, role: str) -> None:
    """Invite an active member to the network's rooms (and coordinators to the control room)."""
    rooms = await networks.rooms(ctx.db, network.id)
    for kind in OPEN_ROOMS + (("control",) if role == "coordinator" else ()):
        if kind in rooms:
            await ctx.chat.invite(rooms[kind], user_id)
            if role == "coordinator":
                await ctx.chat.set_power(rooms[kind], user_id, level_for(role))


async def dismiss(ctx: Context, network: Network, user_id: str, reason: str, *, private: bool = False) -> None:
    """Remove someone from all the network's rooms."""
    rooms = await networks.rooms(ctx.db, network.id)
    for kind in OPEN_ROOMS + ("control",):
        if kind in rooms:
            await ctx.chat.kick(rooms[kind], user_id, reason, private=private)


async def change_power(ctx: Context, network: Network, user_id: str, old: str, new: str) -> None:
    rooms = await networks.rooms(ctx.db, network.id)
    if level_for(old) != level_for(new):
        for kind in OPEN_ROOMS + ("control",):
            if kind in rooms and (kind != "control" or new == "coordinator"):
                await ctx.chat.set_power(rooms[kind], user_id, level_for(new))
    if new == "coordinator" and old != "coordinator" and "control" in rooms:
        await ctx.chat.invite(rooms["control"], user_id)
    if old == "coordinator" and new != "coordinator" and "control" in rooms:
        await ctx.chat.kick(rooms["control"], user_id, ctx.t("membership.role_kick_reason").plain)


async def control_room(ctx: Context, network: Network) -> str | None:
    return await networks.room_id(ctx.db, network.id, "control")
