"""Joining a network, the coordinators' answers, the house rules, leaving and being removed."""
from __future__ import annotations

from api import Context, Reply, Rest, Role, UserError, UserId, Where, command
from api.render import bold, code, lines, pill
from commands.membership import service
from commands.membership.rules import auto_approved
from storage import members, networks
from storage.models import Network


async def _pick_for_join(ctx: Context, first: str | None, rest: str | None) -> tuple[Network, str | None]:
    """`!join <network> [about]`; with a single network the id may be left out."""
    all_nets = await networks.all_networks(ctx.db)
    if first is not None and (net := await networks.get(ctx.db, first.lower())):
        return net, rest
    if len(all_nets) == 1:
        note = " ".join(filter(None, (first, rest))) or None
        return all_nets[0], note
    if first is None:
        raise UserError("membership.join_which", choices=await service.choices(ctx), prefix=ctx.prefix)
    raise UserError("membership.unknown_network", value=first[:40], choices=await service.choices(ctx))


@command("join", help="cmd.join", role=Role.ANYONE, where=Where.DM, usage="<network> [about yourself...]",
         local={"nl": "lid-worden", "nb": "bli-med"})
async def join(ctx: Context, network: str | None = None, about: Rest | None = None) -> Reply:
    net, note = await _pick_for_join(ctx, network, about)
    note = note.strip()[:500] if note else None
    row, before = await members.request_join(ctx.db, net.id, ctx.sender, note, ctx.now)
    if before == members.ACTIVE:
        return ctx.reply("membership.already_member", network=net.name)
    if before == members.PENDING:
        return ctx.reply("membership.already_pending", network=net.name)
    control = await service.control_room(ctx, net)
    auto = net.auto_approve or {}
    if auto_approved(ctx.sender, auto.get("user_ids", []), auto.get("domains", [])):
        await _approve(ctx, net, ctx.sender, by=None)
        if control:
            await ctx.post(control, "membership.auto_approved_note", about_network=net.id, about=ctx.sender,
                           user=pill(ctx.sender), network=net.name)
        return ctx.reply("membership.auto_approved", network=net.name)
    if control:  # redacted if the person is forgotten
        await ctx.post(control, "membership.request_note", about_network=net.id, about=ctx.sender,
                       user=pill(ctx.sender), network=net.name, note=note or (lambda t: t("membership.no_note")),
                       approve=code(f"{ctx.prefix}approve {ctx.sender}"), decline=code(f"{ctx.prefix}decline {ctx.sender}"))
    return ctx.reply("membership.request_sent", network=net.name)


async def _approve(ctx: Context, net: Network, user_id: str, by: str | None) -> None:
    row = await members.membership(ctx.db, net.id, user_id, lock=True)
    members.set_state(row, members.ACTIVE, ctx.now)
    await service.admit(ctx, net, user_id, row.role)
    t = await ctx.translator_for(user_id, net.id)
    await ctx.chat.dm(user_id, t("membership.welcome", network=net.name, rules=service.house_rules(t, net),
                                 accept=code(f"{ctx.prefix}accept-rules")))


@command("approve", help="cmd.approve", role=Role.COORDINATOR, where=Where.PRIVATE,
         local={"nl": "goedkeuren", "nb": "godkjenn"})
async def approve(ctx: Context, user: UserId) -> Reply:
    net = await service.coordinator_scope(ctx, "approve", user, states=(members.PENDING,))
    row = await members.membership(ctx.db, net.id, user)
    if row is None or row.state != members.PENDING:
        return ctx.reply("membership.no_request", user=user, network=net.name)
    await _approve(ctx, net, user, by=ctx.sender)
    return Reply(ctx.t("membership.approved", user=pill(user), network=net.name), about=user)


@command("decline", help="cmd.decline", role=Role.COORDINATOR, where=Where.PRIVATE, usage="<user> [reason...]",
         local={"nl": "afwijzen", "nb": "avslå"})
async def decline(ctx: Context, user: UserId, reason: Rest | None = None) -> Reply:
    net = await service.coordinator_scope(ctx, "decline", user, states=(members.PENDING,))
    row = await members.membership(ctx.db, net.id, user, lock=True)
    if row is None or row.state != members.PENDING:
        return ctx.reply("membership.no_request", user=user, network=net.name)
    members.set_state(row, members.DECLINED, ctx.now)
    t = await ctx.translator_for(user, net.id)
    text = t("membership.declined_dm", network=net.name)
    if reason:
        text = text + "\n" + t("membership.reason", reason=reason[:500])
    await ctx.chat.dm(user, text)
    return Reply(ctx.t("membership.declined", user=pill(user), network=net.name), about=user)


async def _my_network(ctx: Context, raw: str | None, command_name: str) -> Network:
    """The caller's network: named, or the one whose room this is, or their only one."""
    if raw:
        return await service.network_named(ctx, raw)
    here = await service.room_network(ctx)
    if here is not None:
        return here
    mine = await members.active_networks(ctx.db, ctx.sender)
    if len(mine) == 1:
        return await networks.get(ctx.db, mine[0])
    raise UserError("membership.name_network", command=command_name, networks=", ".join(mine) or "-")


@command("rules", help="cmd.rules", role=Role.ANYONE, local={"nl": "huisregels", "nb": "husregler"})
async def rules(ctx: Context, network: str | None = None) -> Reply:
    if network is None and len(all_nets := await networks.all_networks(ctx.db)) == 1:
        net = all_nets[0]
    else:
        net = await _my_network(ctx, network, "rules")
    accepted = await members.rules_accepted(ctx.db, net.id, ctx.sender)
    status = ctx.t("membership.rules_accepted" if accepted else "membership.rules_to_accept",
                   accept=code(f"{ctx.prefix}accept-rules"))
    return Reply(lines([bold(ctx.t("membership.rules_title", network=net.name)),
                        service.house_rules(ctx.t, net), status]))


@command("accept-rules", help="cmd.accept_rules", role=Role.MEMBER, local={"nl": "regels-aanvaarden", "nb": "godta-regler"})
async def accept_rules(ctx: Context, network: str | None = None) -> Reply:
    wanted = [(await service.network_named(ctx, network)).id] if network else await members.active_networks(ctx.db, ctx.sender)
    done = []
    for net_id in wanted:
        row = await members.membership(ctx.db, net_id, ctx.sender, lock=True)
        net = await networks.get(ctx.db, net_id)
        if row is None or row.state != members.ACTIVE:
            raise UserError("membership.not_member", network=net.name)
        if row.rules_version is None or row.rules_version < net.rules_version:
            members.accept_rules(row, net.rules_version, ctx.now)
            done.append(net)
    if not done:
        return ctx.reply("membership.rules_already")
    # the reply shows what was accepted: nobody accepts rules they were never shown
    shown = [lines([bold(ctx.t("membership.rules_title", network=net.name)), service.house_rules(ctx.t, net)])
             for net in done]
    return Reply(lines([*shown, ctx.t("membership.rules_thanks", networks=", ".join(n.name for n in done),
                                      rules=code(f"{ctx.prefix}rules"))]))


@command("leave", help="cmd.leave", role=Role.MEMBER, local={"nl": "verlaten", "nb": "forlat"})
async def leave(ctx: Context, network: str | None = None) -> Reply:
    net = await _my_network(ctx, network, "leave")
    row = await members.membership(ctx.db, net.id, ctx.sender, lock=True)
    if row is None or row.state != members.ACTIVE:
        raise UserError("membership.not_member", network=net.name)
    await service.coordinator_count_ok(ctx, net, ctx.sender, None)
    members.set_state(row, members.LEFT, ctx.now)
    await ctx.release(ctx.sender, net.id)  # their seats and waiting-list places go to the next in line
    await service.dismiss(ctx, net, ctx.sender, ctx.t("membership.left_reason").plain)
    control = await service.control_room(ctx, net)
    if control:
        await ctx.post(control, "membership.left_note", about_network=net.id, about=ctx.sender, notice=True,
                       user=pill(ctx.sender), network=net.name)
    return ctx.reply("membership.left", network=net.name, prefix=ctx.prefix, network_id=net.id)

