"""Coordinators manage the roster: !remove, !members and !role (per network)."""
from __future__ import annotations

import enum

from api import Context, Reply, Rest, Role, UserError, UserId, Where, command, confirmable
from api.render import Text, bold, bullets, isolate, lines, pill
from commands.common.lists import BUDGET, LIMIT, fit
from commands.membership import service
from commands.membership.rules import matches_filter
from storage import members, networks
from storage.models import Member, Membership, Network

REMOVE = "membership.remove"


class NetworkRole(enum.Enum):
    MEMBER = "member"
    FACILITATOR = "facilitator"
    COORDINATOR = "coordinator"


@command("remove", help="cmd.remove", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<user> [reason...]",
         local={"nl": "verwijderen", "nb": "fjern"})
async def remove(ctx: Context, user: UserId, reason: Rest | None = None) -> Reply:
    """Loud (the person is taken out of every room and told): say what will happen, then !confirm."""
    net, _row = await _removable(ctx, user)
    summary = ctx.t("membership.remove_summary", user=pill(user), network=net.name)
    if reason:
        summary = summary + " " + ctx.t("membership.remove_summary_reason", reason=reason[:500])
    return await ctx.confirm(REMOVE, {"user": user, "network": net.id, "reason": reason}, summary=summary)


async def _removable(ctx: Context, user: str) -> tuple[Network, Membership]:
    net = await service.coordinator_scope(ctx, "remove", user, states=(members.ACTIVE, members.PENDING))
    row = await members.membership(ctx.db, net.id, user, lock=True)
    if row is None or row.state not in (members.ACTIVE, members.PENDING):
        raise UserError("membership.target_not_member", user=user, network=net.name)
    await service.coordinator_count_ok(ctx, net, user, None)
    return net, row


@confirmable(REMOVE)
async def remove_confirmed(ctx: Context, args: dict) -> Reply:
    user, reason = args["user"], args.get("reason")
    net, row = await _removable(ctx, user)  # checked again: it may have changed meanwhile
    if net.id != args["network"]:
        return ctx.reply("confirm.expired")
    members.set_state(row, members.REMOVED, ctx.now)
    await ctx.release(user, net.id)  # their seats and waiting-list places go to the next in line
    t = await ctx.translator_for(user, net.id)
    await service.dismiss(ctx, net, user, t("membership.removed_reason", network=net.name).plain)
    text = t("membership.removed_dm", network=net.name)
    if reason:
        text = text + "\n" + t("membership.reason", reason=reason[:500])
    await ctx.chat.dm(user, text)
    return Reply(ctx.t("membership.removed", user=pill(user), network=net.name), about=user)


@command("members", help="cmd.members", role=Role.COORDINATOR, where=Where.PRIVATE, usage="[filter]",
         local={"nl": "leden", "nb": "medlemmer"})
async def members_command(ctx: Context, filter: Rest | None = None) -> Reply:  # noqa: A002
    here = await service.room_network(ctx)
    if here is not None:
        service.require_coordinator(ctx, here, "members")
        nets = [here]
    else:
        nets = [n for n in await networks.all_networks(ctx.db) if ctx.roles.get(n.id, Role.ANYONE) >= Role.COORDINATOR]
    out = []
    for net in nets:
        rows = await members.listing(ctx.db, net.id)
        counts = {}
        for _m, ms in rows:
            key = ms.role if ms.state == members.ACTIVE else ms.state
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{ctx.t('members.count.' + k).plain}: {v}" for k, v in sorted(counts.items())) or "-"
        shown = [(m, ms) for m, ms in rows
                 if matches_filter(filter, m.user_id, m.display_name, m.organisation, ms.role, ms.state)]
        items, hidden = fit((_line(ctx, m, ms, net.rules_version) for m, ms in shown), len(shown),
                            limit=LIMIT, budget=BUDGET // len(nets))
        block = [bold(ctx.t("members.title", network=net.name)), ctx.t("members.counts", counts=summary)]
        block.append(bullets(items) if items else ctx.t("members.none"))
        if hidden:
            block.append(ctx.t("members.more", count=hidden))
        out.append(lines(block))
    return Reply(lines(out), private=True)  # a roster: nothing of it is kept once sent


def _line(ctx: Context, m: Member, ms: Membership, version: int) -> Text:
    who = pill(m.user_id, m.display_name) + f" ({m.user_id})" if m.display_name else pill(m.user_id)
    parts = [who, ctx.t(f"members.role.{ms.role}") if ms.state == members.ACTIVE else ctx.t(f"members.state.{ms.state}")]
    if m.organisation:
        parts.append(isolate(m.organisation))
    if ms.state == members.ACTIVE and (ms.rules_version or 0) < version:
        parts.append(ctx.t("members.rules_pending"))
    out = parts[0]
    for part in parts[1:]:
        out = out + " · " + part
    return out


@command("role", help="cmd.role", role=Role.COORDINATOR, where=Where.PRIVATE,
         usage="<user> member|facilitator|coordinator", local={"nl": "rol", "nb": "rolle"})
async def role(ctx: Context, user: UserId, new_role: NetworkRole) -> Reply:
    net = await service.coordinator_scope(ctx, "role", user)
    row = await members.membership(ctx.db, net.id, user, lock=True)
    if row is None or row.state != members.ACTIVE:
        raise UserError("membership.target_not_member", user=user, network=net.name)
    old = row.role
    if old == new_role.value:
        return ctx.reply("membership.role_same", user=pill(user), role=ctx.t(f"members.role.{old}"))
    await service.coordinator_count_ok(ctx, net, user, new_role.value)
    row.role, row.updated_at = new_role.value, ctx.now
    await service.change_power(ctx, net, user, old, new_role.value)
    t = await ctx.translator_for(user, net.id)
    await ctx.chat.dm(user, t("membership.role_dm", network=net.name, role=t(f"members.role.{new_role.value}")))
    return Reply(ctx.t("membership.role_set", user=pill(user), network=net.name,
                       role=ctx.t(f"members.role.{new_role.value}")), about=user)
