"""What the feature packages declare, collected from the functions their decorators tagged. The
runtime's discovery hands every module of every feature here (or, running, their stand-ins read
from commands/declared.json: api/deferred.py); a handler reaches
the collection through its context (`ctx.confirm`, `ctx.release`, `ctx.seats_changed`, `ctx.declared`)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from api.decorators import (COMMAND_ATTR, CONFIRMABLE_ATTR, FLOW_ATTR, JOB_ATTR, LEAVE_ATTR, PUBLISHED_ATTR,
                            ROOM_EVENT_ATTR, SEATS_ATTR, SESSION_ATTR, STARTER_ATTR, CommandSpec, Handler)
from storage.privacy import ERASER_ATTR, EXPORTER_ATTR, Eraser, Exporter


@dataclass
class Declared:
    commands: list[CommandSpec] = field(default_factory=list)
    jobs: dict[str, Callable[..., Awaitable[None]]] = field(default_factory=dict)
    flows: dict[str, Handler] = field(default_factory=dict)
    confirmables: dict[str, Handler] = field(default_factory=dict)
    leave_hooks: list[Callable[..., Awaitable[None]]] = field(default_factory=list)
    seat_hooks: list[Callable[..., Awaitable[None]]] = field(default_factory=list)
    session_hooks: list[Callable[..., Awaitable[None]]] = field(default_factory=list)
    exporters: dict[str, Exporter] = field(default_factory=dict)
    erasers: dict[str, Eraser] = field(default_factory=dict)
    # event type -> the @on_room_event hooks for it
    room_events: dict[str, list[Callable[..., Awaitable[None]]]] = field(default_factory=dict)
    starters: dict[str, Handler] = field(default_factory=dict)  # flow name -> its prefilled start
    publish_hooks: list[Callable[..., Awaitable[None]]] = field(default_factory=list)

    @classmethod
    def collect(cls, modules: Iterable[tuple[str, ModuleType]]) -> Declared:
        """Everything tagged in these (feature name, module) pairs; a name declared twice is an error."""
        out = cls()
        for feature, module in modules:
            objects = [obj for name, obj in vars(module).items() if getattr(obj, "__module__", None) == module.__name__]
            for obj in objects:
                spec = getattr(obj, COMMAND_ATTR, None)
                if isinstance(spec, CommandSpec) and spec.handler is obj:
                    out.commands.append(replace(spec, feature=feature))
                if getattr(obj, LEAVE_ATTR, False):
                    out.leave_hooks.append(obj)
                if getattr(obj, SEATS_ATTR, False):
                    out.seat_hooks.append(obj)
                if getattr(obj, SESSION_ATTR, False):
                    out.session_hooks.append(obj)
                if getattr(obj, PUBLISHED_ATTR, False):
                    out.publish_hooks.append(obj)
                for event_type in getattr(obj, ROOM_EVENT_ATTR, ()):
                    out.room_events.setdefault(event_type, []).append(obj)
                for attr, table in ((JOB_ATTR, out.jobs), (FLOW_ATTR, out.flows), (CONFIRMABLE_ATTR, out.confirmables),
                                    (EXPORTER_ATTR, out.exporters), (ERASER_ATTR, out.erasers),
                                    (STARTER_ATTR, out.starters)):
                    name = getattr(obj, attr, None)
                    if isinstance(name, str):
                        _add(table, name, obj, attr)
        return out


def _add(table: dict[str, Any], name: str, fn: Any, attr: str) -> None:
    if name in table and table[name] is not fn:
        raise ValueError(f"{attr.strip('_')} {name!r} declared twice")
    table[name] = fn
