"""From a message to a command call: prefix or mention, name and alias lookup (once), the role
and place checks (Where.PRIVATE included), typed and converted arguments, the usage line on a
mistake; all derived from each command's declaration. The dispatcher around it owns the
transaction and exactly-once."""
from __future__ import annotations

import enum
import importlib
import json
import logging
import pkgutil
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from api import Context, Reply, Rest, Role, UserError, UserId, Where, whole_number
from api.i18n import Translator
from api.render import Text, code

from api.declared import Declared
from api.deferred import deferred_modules, full_spec, listing
from api.decorators import CommandSpec, Param

log = logging.getLogger("kring.dispatch")
TOKEN = re.compile(r'"([^"]*)"|(\S+)')
DECLARED = "declared.json"  # in the features' package: what they declare, as data (api/deferred.py)
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")


@dataclass(frozen=True)
class Unknown:
    word: str
    suggestions: tuple[str, ...]


class Registry:
    """Every command, job, flow, confirmable action, leave hook and privacy part that the feature
    packages declare."""

    def __init__(self, specs: list[CommandSpec], jobs: dict[str, Any] | None = None,
                 flows: dict[str, Any] | None = None, declared: Declared | None = None) -> None:
        self.declared = declared or Declared(commands=specs, jobs=jobs or {}, flows=flows or {})
        self.specs = specs
        self.jobs = self.declared.jobs
        self.flows = self.declared.flows
        self._by_name: dict[str, CommandSpec] = {}
        self._wholes: dict[Any, CommandSpec] = {}  # handler -> the spec with its parameters (load())
        # One name may serve two commands when exactly one of them takes a Matrix ID first
        # (`!decline @user` for a join request, `!decline <event>` for a seat offer).
        self._by_user: dict[str, CommandSpec] = {}
        primaries = {spec.name for spec in specs}
        for spec in specs:
            for name in spec.names:
                if name != spec.name and name in primaries:
                    continue  # a command's own name wins over another command's alias
                other = self._by_name.get(name)
                if other is None:
                    self._by_name[name] = spec
                elif name not in self._by_user and _takes_user(spec) != _takes_user(other):
                    self._by_user[name] = spec if _takes_user(spec) else other
                    self._by_name[name] = other if _takes_user(spec) else spec
                else:
                    raise ValueError(f"command name {name!r} declared twice")
        # Declared names that do not start with a letter or digit (`?` for help).
        self.symbols = frozenset(name for name in self._by_name if not name[:1].isalnum())

    @classmethod
    def discover(cls, package: str = "commands") -> Registry:
        """Import every module of every feature package (commands.<feature>.*) and collect what
        their decorators tagged. Nothing registers itself at import time."""
        declared = Declared.collect(feature_modules(package))
        return cls(declared.commands, declared=declared)

    @classmethod
    def load(cls, package: str = "commands") -> Registry:
        """What discover() would find, read from the package's declared.json (api/deferred.py):
        each feature module is imported when one of its functions is first used."""
        entries = json.loads((Path(importlib.import_module(package).__file__).parent / DECLARED).read_text())
        declared = Declared.collect(deferred_modules(entries))
        return cls(declared.commands, declared=declared)

    def match(self, text: str, visible: list[CommandSpec] | None = None) -> tuple[CommandSpec, str] | Unknown:
        """Longest command name that starts the text; otherwise the closest names the caller may use."""
        words = text.split(maxsplit=2)
        for n in (2, 1):
            if len(words) >= n:
                spec = self._by_name.get(" ".join(words[:n]).lower())
                if spec:
                    rest = text.split(maxsplit=n)[n] if len(text.split(maxsplit=n)) > n else ""
                    alt = self._by_user.get(" ".join(words[:n]).lower())
                    if alt and USER_ID.match(rest.split(maxsplit=1)[0] if rest.strip() else ""):
                        spec = alt
                    return self._whole(spec), rest
        first = words[0].lower() if words else ""
        return Unknown(first, self.suggest(first, self.specs if visible is None else visible))

    @staticmethod
    def suggest(word: str, visible: list[CommandSpec], language: str = "en") -> tuple[str, ...]:
        """The closest commands among those the caller may use, each named once, in the reader's
        language (a typo of `help` suggests `help` to an English reader, not also `hulp` and `hjelp`)."""
        import difflib  # only for a mistyped command: not loaded by every start

        scored = []
        for spec in visible:
            score = max(difflib.SequenceMatcher(None, word, name).ratio() for name in spec.names)
            if score >= 0.5:
                scored.append((-score, spec.name_in(language)))
        return tuple(name for _score, name in sorted(scored)[:3])

    def visible_to(self, role: Role, is_dm: bool) -> list[CommandSpec]:
        return [s for s in self.specs if s.role <= role and place_ok(s.where, is_dm)]

    def _whole(self, spec: CommandSpec) -> CommandSpec:
        """The spec with its parameters, its feature imported the first time (Registry.load)."""
        whole = self._wholes.get(spec.handler)
        if whole is None:
            whole = self._wholes[spec.handler] = full_spec(spec)
        return whole

    def find(self, name: str) -> CommandSpec | None:
        return self._by_name.get(name.lower())


def feature_modules(package: str = "commands") -> list[tuple[str, ModuleType]]:
    """(feature, module) for every module of every feature package, each imported."""
    root = importlib.import_module(package)
    modules = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        feature = importlib.import_module(f"{package}.{info.name}")
        modules.append((info.name, feature))
        if info.ispkg:
            for sub in sorted(pkgutil.walk_packages(feature.__path__, f"{feature.__name__}."), key=lambda i: i.name):
                modules.append((info.name, importlib.import_module(sub.name)))
    return modules


def write_declared(package: str = "commands") -> Path:
    """Write the package's declared.json from what discovery finds (scripts/declarations.py)."""
    path = Path(importlib.import_module(package).__file__).parent / DECLARED
    lines = (json.dumps(entry, ensure_ascii=False) for entry in listing(feature_modules(package)))
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    return path


def _takes_user(spec: CommandSpec) -> bool:
    return spec.user_first


def place_ok(where: Where, is_dm: bool) -> bool:
    return where.allows(is_dm)


def clean(body: str) -> str:
    """The text without NUL characters: no database can store them (PostgreSQL refuses 0x00 in
    text), and no person means one, so every command and flow step sees the text without them."""
    return body.replace("\x00", "")


def extract(body: str, prefix: str, user_id: str, display_name: str | None,
            symbols: frozenset[str] = frozenset()) -> str | None:
    """The command text if the message is addressed to the bot, by prefix or by a mention.
    After the prefix a command starts with a letter or digit, or is one of the declared `symbols`."""
    text = clean(body).strip()
    if text.startswith(prefix):
        rest = text[len(prefix):]
        first = rest.split(maxsplit=1)[0] if rest.strip() else ""
        return rest if rest[:1].isalnum() or first in symbols else None
    localpart = user_id[1:].split(":", 1)[0]
    for name in filter(None, (user_id, display_name, localpart)):
        if text.lower().startswith(name.lower()):
            rest = text[len(name):]
            if rest[:1] in (":", ",", " "):
                rest = rest.lstrip(":, ")
                return rest.removeprefix(prefix) or None
    return None


def check_access(spec: CommandSpec, role: Role, is_dm: bool) -> None:
    """The command and the role are named in the reader's language (rendered by their translator)."""
    name = _local_name(spec)
    if role < spec.role:
        raise UserError("error.role", command=name, role=lambda t: t(f"members.role.{spec.role.name.lower()}"))
    if not place_ok(spec.where, is_dm):
        raise UserError("error.where_dm" if spec.where is Where.DM else "error.where_room", command=name)


def _local_name(spec: CommandSpec) -> Callable[[Translator], str]:
    return lambda t: spec.name_in(t.language)


def parse_args(spec: CommandSpec, rest: str) -> dict[str, Any]:
    """Typed keyword arguments for the handler, or UserError('error.usage') saying what was wrong.
    An argument with a converter stays text here; `resolve` turns it into its object."""
    values: dict[str, Any] = {}
    remaining = rest.strip()
    for param in spec.params:
        taken = param.converter.take(remaining) if param.converter else None
        if taken is not None:
            values[param.name], remaining = taken
            continue
        if param.kind is Rest or (param.converter and param.converter.rest):
            if remaining:
                values[param.name] = remaining
            elif not param.optional:
                raise UserError("error.missing", name=label_of(param))
            remaining = ""
            continue
        match = TOKEN.match(remaining)
        if not match:
            if not param.optional:
                raise UserError("error.missing", name=label_of(param))
            values[param.name] = param.default
            continue
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        remaining = remaining[match.end():].lstrip()
        values[param.name] = raw if param.converter else convert(param, raw)
    if remaining:
        raise UserError("error.extra", extra=remaining[:80])
    return values


def label_of(param: Param) -> str:
    """How the usage line names the argument: its converter's label, else the parameter's name."""
    return (param.converter.label if param.converter and param.converter.label else param.name).replace("_", "-")


def convert(param: Param, raw: str) -> Any:
    label = label_of(param)
    if param.kind is int:
        number = whole_number(raw)
        if number is None:
            raise UserError("error.not_number", name=label, value=raw[:40])
        return number
    if param.kind is UserId:
        if not USER_ID.match(raw):
            raise UserError("error.not_user", name=label, value=raw[:80])
        return UserId(raw)
    if isinstance(param.kind, type) and issubclass(param.kind, enum.Enum):
        for member in param.kind:
            if raw.lower() in (member.name.lower(), str(member.value).lower()):
                return member
        choices = "|".join(m.name.lower() for m in param.kind)
        raise UserError("error.choice", name=label, value=raw[:40], choices=choices)
    parse = getattr(param.kind, "parse", None)
    if callable(parse) and param.kind is not str:
        return parse(raw)
    return raw


async def resolve(spec: CommandSpec, values: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """Run each argument's converter in order (a later one may use an earlier one's object)."""
    bound: dict[str, Any] = {}
    for param in spec.params:
        value = values.get(param.name)
        if param.converter is not None and isinstance(value, str):
            try:
                value = await param.converter.convert(ctx, value, dict(bound))
            except UserError as err:
                err.with_usage = True  # the converter's own message, then how to type the command
                raise
        bound[param.name] = value
    return bound


async def check_place(spec: CommandSpec, ctx: Context) -> None:
    """Where.PRIVATE: only the caller's DM, or a coordinators' room of a network they coordinate."""
    if spec.where is Where.PRIVATE and not ctx.is_dm and await ctx.control_network() is None:
        raise UserError("places.private", command=_local_name(spec))


def usage_line(ctx: Context, spec: CommandSpec) -> Text:
    line = f"{ctx.prefix}{spec.name_in(ctx.t.language)} {ctx.t.usage(spec.usage)}"
    return ctx.t("error.usage_line", usage=code(line.strip()))


async def route(registry: Registry, ctx: Context, found: tuple[CommandSpec, str] | Unknown,
                savepoint: Callable[[Context], AbstractAsyncContextManager[None]]) -> tuple[str, str, Reply | None]:
    """Text to call: the role and place checks, the arguments (parsed and converted), the handler
    inside `savepoint` (the dispatcher's), and the polite answer to a mistake with the usage line.
    Returns (command name, outcome, reply)."""
    if isinstance(found, Unknown):
        visible = registry.visible_to(ctx.role, ctx.is_dm)
        suggestions = registry.suggest(found.word, visible, ctx.t.language)
        key = "error.unknown_suggest" if suggestions else "error.unknown"
        options = ", ".join(ctx.prefix + s for s in suggestions)
        return "?", "unknown", ctx.reply(key, word=found.word[:40], suggestions=options, prefix=ctx.prefix)
    spec, rest = found
    try:
        check_access(spec, ctx.role, ctx.is_dm)
        await check_place(spec, ctx)
        async with savepoint(ctx):
            kwargs = await resolve(spec, parse_args(spec, rest), ctx)
            reply = await spec.handler(ctx, **kwargs)
        return spec.name, "ok", reply
    except UserError as err:
        message = ctx.t(err.key, **err.values)
        if err.with_usage or err.key.startswith("error.") and err.key not in ("error.role", "error.where_dm",
                                                                              "error.where_room"):
            message = message + "\n" + usage_line(ctx, spec)
        return spec.name, "user-error", Reply(message)
    except Exception:
        ref = secrets.token_hex(3)
        log.exception("command failed", extra={"event_id": ctx.event_id, "command": spec.name, "ref": ref})
        return spec.name, "crash", ctx.reply("error.internal", ref=ref)
