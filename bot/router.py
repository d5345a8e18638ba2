"""From a message to a command call: prefix or mention, name and alias lookup, typed arguments,
and the role and place checks, all derived from each command's declaration."""
from __future__ import annotations

import difflib
import enum
import importlib
import importlib.util
import pkgutil
import re
from dataclasses import dataclass
from typing import Any

from api import Rest, Role, UserError, UserId, Where, whole_number

from api.decorators import COMMAND_ATTR, FLOW_ATTR, JOB_ATTR, CommandSpec, Param

TOKEN = re.compile(r'"([^"]*)"|(\S+)')
USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")


@dataclass(frozen=True)
class Unknown:
    word: str
    suggestions: tuple[str, ...]


class Registry:
    """Every command and scheduled-job kind that the feature packages declare."""

    def __init__(self, specs: list[CommandSpec], jobs: dict[str, Any] | None = None,
                 flows: dict[str, Any] | None = None) -> None:
        self.specs = specs
        self.jobs = jobs or {}
        self.flows = flows or {}
        self._by_name: dict[str, CommandSpec] = {}
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
        """Import commands.<feature>.handlers and .jobs and collect what they declare."""
        root = importlib.import_module(package)
        specs: list[CommandSpec] = []
        jobs: dict[str, Any] = {}
        flows: dict[str, Any] = {}
        for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
            for part in ("handlers", "jobs", "flows"):
                name = f"{package}.{info.name}.{part}"
                if importlib.util.find_spec(name) is None:
                    continue
                module = importlib.import_module(name)
                for obj in vars(module).values():
                    spec = getattr(obj, COMMAND_ATTR, None)
                    if isinstance(spec, CommandSpec) and spec.handler is obj:
                        specs.append(_with_feature(spec, info.name))
                    kind = getattr(obj, JOB_ATTR, None)
                    if kind:
                        jobs[kind] = obj
                    flow_name = getattr(obj, FLOW_ATTR, None)
                    if flow_name:
                        flows[flow_name] = obj
        return cls(specs, jobs, flows)

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
                    return spec, rest
        first = words[0].lower() if words else ""
        names = [name for spec in (self.specs if visible is None else visible) for name in spec.names]
        return Unknown(first, tuple(difflib.get_close_matches(first, names, n=3, cutoff=0.5)))

    def command_name(self, text: str) -> str:
        """The command the text names (for the processed-events record), or "?"."""
        found = self.match(text)
        return "?" if isinstance(found, Unknown) else found[0].name

    def visible_to(self, role: Role, is_dm: bool) -> list[CommandSpec]:
        return [s for s in self.specs if s.role <= role and place_ok(s.where, is_dm)]

    def find(self, name: str) -> CommandSpec | None:
        return self._by_name.get(name.lower())


def _takes_user(spec: CommandSpec) -> bool:
    return bool(spec.params) and spec.params[0].kind is UserId


def _with_feature(spec: CommandSpec, feature: str) -> CommandSpec:
    from dataclasses import replace

    return replace(spec, feature=feature)


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
    if role < spec.role:
        raise UserError("error.role", command=spec.name, role=spec.role.name.lower())
    if not place_ok(spec.where, is_dm):
        raise UserError("error.where_dm" if spec.where is Where.DM else "error.where_room", command=spec.name)


def parse_args(spec: CommandSpec, rest: str) -> dict[str, Any]:
    """Typed keyword arguments for the handler, or UserError('error.usage') saying what was wrong."""
    values: dict[str, Any] = {}
    remaining = rest.strip()
    for param in spec.params:
        if param.kind is Rest:
            if remaining:
                values[param.name] = remaining
            elif not param.optional:
                raise UserError("error.missing", name=param.name.replace("_", "-"))
            remaining = ""
            continue
        match = TOKEN.match(remaining)
        if not match:
            if not param.optional:
                raise UserError("error.missing", name=param.name.replace("_", "-"))
            values[param.name] = param.default
            continue
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        remaining = remaining[match.end():].lstrip()
        values[param.name] = convert(param, raw)
    if remaining:
        raise UserError("error.extra", extra=remaining[:80])
    return values


def convert(param: Param, raw: str) -> Any:
    label = param.name.replace("_", "-")
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
