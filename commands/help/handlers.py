"""!help: generated from the command declarations, showing only what the caller may use."""
from __future__ import annotations

from itertools import groupby

from api import Context, Reply, Rest, Role, command
from api.render import bold, bullets, code, lines


@command("help", help="cmd.help", role=Role.ANYONE, aliases=("h", "?"))
async def help_command(ctx: Context, name: Rest | None = None) -> Reply:
    visible = [s for s in ctx.commands if s.role <= ctx.role and s.where.allows(ctx.is_dm)]
    if name:
        wanted = name.strip().removeprefix(ctx.prefix).lower()
        spec = next((s for s in visible if wanted in s.names), None)
        if spec is None:
            return ctx.reply("help.unknown", name=wanted[:40], prefix=ctx.prefix)
        usage = code(f"{ctx.prefix}{spec.name} {spec.usage}".strip())
        text = ctx.t("help.command", usage=usage, help=ctx.t(spec.help_key))
        text = text + "\n" + ctx.t("help.role", role=spec.role.name.lower(), where=ctx.t(f"help.where.{spec.where.value}"))
        return Reply(text)
    if not visible:
        return ctx.reply("help.none")
    sections = [bold(ctx.t("help.title"))]
    for feature, specs in groupby(sorted(visible, key=lambda s: (s.feature, s.name)), key=lambda s: s.feature):
        sections.append(bold(ctx.t(f"feature.{feature}")))
        sections.append(bullets(code(f"{ctx.prefix}{s.name} {s.usage}".strip()) + " — " + ctx.t(s.help_key)
                                for s in specs))
    sections.append(ctx.t("help.more", prefix=ctx.prefix))
    return Reply(lines(sections))
