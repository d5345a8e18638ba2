"""A person's profile: language, timezone, organisation, and what Kring knows of their standing."""
from __future__ import annotations

import unicodedata
from zoneinfo import available_timezones

from api import Context, Reply, Rest, Role, UserError, command
from api import i18n
from api.i18n import Translator
from api.render import bold, code, lines
from commands.common.places import privately
from commands.profile.rules import match_zone
from storage import members, networks

ORG_LIMIT = 255  # the column's size


@command("lang", help="cmd.lang", role=Role.ANYONE, usage="[language]", aliases=("language",),
         local={"nl": "taal", "nb": "språk"})
async def lang(ctx: Context, language: str | None = None) -> Reply:
    """Without a code: the languages, each named in itself. The answer comes in the new language."""
    choices = ", ".join(f"{code_} ({i18n.language_name(code_)})" for code_ in i18n.languages())
    if language is None:
        return ctx.reply("profile.lang_list", languages=choices, example=code(f"{ctx.prefix}lang nl"))
    found = i18n.known_language(language)
    if found is None:
        raise UserError("profile.lang_unknown", value=language[:32], languages=choices)
    member = await members.get_or_create(ctx.db, ctx.sender, ctx.now)
    member.language = found
    return Reply(Translator(found)("profile.lang_set", language=i18n.language_name(found)))


@command("tz", help="cmd.tz", role=Role.ANYONE, usage="<IANA zone, e.g. Europe/Amsterdam>", aliases=("timezone",),
         local={"nl": "tijdzone", "nb": "tidssone"})
async def tz(ctx: Context, zone: str) -> Reply:
    found, suggestions = match_zone(zone, available_timezones())
    if found is None:
        if suggestions:
            raise UserError("profile.tz_suggest", value=zone[:64], suggestions=", ".join(suggestions))
        raise UserError("profile.tz_unknown", value=zone[:64])
    member = await members.get_or_create(ctx.db, ctx.sender, ctx.now)
    member.timezone = found
    return await privately(ctx, ctx.t("profile.tz_set", zone=found))


@command("org", help="cmd.org", role=Role.ANYONE, usage="[organisation...]", aliases=("organisation",),
         local={"nl": "organisatie", "nb": "organisasjon"})
async def org(ctx: Context, organisation: Rest | None = None) -> Reply:
    value = " ".join(organisation.split()) if organisation else None
    if value and len(value) > ORG_LIMIT:
        raise UserError("profile.org_too_long", length=len(value), limit=ORG_LIMIT)
    if value and not any(unicodedata.category(c)[0] in "LNPS" for c in value):
        raise UserError("profile.org_invisible", prefix=ctx.prefix)  # only spaces, zero-width or control characters
    member = await members.get_or_create(ctx.db, ctx.sender, ctx.now)
    member.organisation = value
    # privately: the organisation is personal data, as is the rest of the profile
    return await privately(ctx, ctx.t("profile.org_set", organisation=value) if value else ctx.t("profile.org_cleared"))


@command("profile", help="cmd.profile", role=Role.ANYONE, aliases=("me",),
         local={"nl": "profiel", "nb": "profil"})
async def profile(ctx: Context) -> Reply:
    """Answered only in the DM: organisation, networks and roles are nobody else's business."""
    member = await members.get(ctx.db, ctx.sender)
    unset = ctx.t("profile.unset")
    language = member.language if member and member.language else None
    rows = [
        bold(ctx.t("profile.title")),
        ctx.t("profile.line.id", user=ctx.sender),
        ctx.t("profile.line.lang", language=i18n.language_name(language) if language else unset),
        ctx.t("profile.line.tz", zone=(member.timezone if member and member.timezone else unset)),
        ctx.t("profile.line.org", organisation=(member.organisation if member and member.organisation else unset)),
        ctx.t("profile.line.reminders", state=ctx.t(f"reminders.word.{'off' if member and member.reminders_off else 'on'}"),
              change=code(f"{ctx.prefix}reminders " + ("on" if member and member.reminders_off else "off"))),
    ]
    standing = []
    for net in await networks.all_networks(ctx.db):
        row = await members.membership(ctx.db, net.id, ctx.sender)
        if row is None:
            continue
        if row.state == members.ACTIVE:
            accepted = await members.rules_accepted(ctx.db, net.id, ctx.sender)
            standing.append(ctx.t("profile.network_active", network=net.name, role=ctx.t(f"members.role.{row.role}"),
                                  rules=ctx.t("profile.rules_ok" if accepted else "profile.rules_todo",
                                              accept=code(f"{ctx.prefix}accept-rules"))))
        else:
            standing.append(ctx.t("profile.network_other", network=net.name, state=ctx.t(f"members.state.{row.state}")))
    rows.append(lines(standing) if standing else ctx.t("profile.no_networks", join=code(f"{ctx.prefix}join")))
    rows.append(ctx.t("profile.hint", prefix=ctx.prefix))
    return await privately(ctx, lines(rows))
