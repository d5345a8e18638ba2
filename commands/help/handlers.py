"""!help: generated from the command declarations, showing only what the caller may use, each
command under its name in the reader's language (the others still work)."""
from __future__ import annotations

from itertools import groupby

from api import Context, Reply, Rest, Role, command
from api.render import bold, bullets, code, lines


@command("help", help="cmd.help", role=Role.ANYONE, aliases=("h", "?"), local={"nl": "hulp", "nb": "hjelp"})
async def help_command(ctx: Context, name: Rest | None = None) -> Reply:
    visible = [s for s in ctx.commands if s.role <= ctx.role and s.where.allows(ctx.is_dm)]
    language = ctx.t.language
    if name:
        wanted = " ".join(name.strip().removeprefix(ctx.prefix).lower().split())
        spec = next((s for s in visible if wanted in s.names), None)
        if spec is None:
            return ctx.reply("help.unknown", name=wanted[:40], prefix=ctx.prefix)
        usage = code(f"{ctx.prefix}{spec.name_in(language)} {ctx.t.usage(spec.usage)}".strip())
        text = ctx.t("help.command", usage=usage, help=ctx.t(spec.help_key))
        where = ctx.t(f"help.where.{spec.where.value}")
        text = text + "\n" + (ctx.t("help.role_anyone", where=where) if spec.role is Role.ANYONE else
                              ctx.t("help.role", role=ctx.t(f"members.role.{spec.role.name.lower()}"), where=where))
        others = [n for n in spec.names if n not in (spec.name_in(language), *spec.aliases)]
        if others:
            text = text + "\n" + ctx.t("help.also", names=", ".join(f"{ctx.prefix}{n}" for n in others))
        return Reply(text)
    if not visible:
        return ctx.reply("help.none")
    sections = [bold(ctx.t("help.title"))]
    for feature, specs in groupby(sorted(visible, key=lambda s: (s.feature, s.name_in(language))), key=lambda s: s.feature):
        sections.append(bold(ctx.t(f"feature.{feature}")))
        sections.append(bullets(code(f"{ctx.prefix}{s.name_in(language)} {ctx.t.usage(s.usage)}".strip())
                                + " — " + ctx.t(s.help_key) for s in specs))
    sections.append(ctx.t("help.more", prefix=ctx.prefix))
    return Reply(lines(sections))
