"""The features' declarations as data (commands/declared.json), so that the running bot knows every
command, job, flow and hook without importing the features: a feature's modules are imported when
one of its functions is first called (or one of its commands first typed). Their handlers, rules and
queries are about 2 MiB of the bot's memory, most of it never needed in a given hour.

The decorators stay the one source of truth: the file is written from what discovery collects
(scripts/declarations.py), a test fails when it no longer matches them, and a listed function that
no longer carries what the file says refuses to run (StaleDeclarations)."""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from types import ModuleType
from typing import Any

from api.decorators import (COMMAND_ATTR, CONFIRMABLE_ATTR, FLOW_ATTR, FLOW_FILES_ATTR, JOB_AHEAD_ATTR,
                            JOB_ALWAYS_ATTR, JOB_ATTR, JOB_EVERY_ATTR, LEAVE_ATTR, PUBLISHED_ATTR, ROOM_EVENT_ATTR,
                            SEATS_ATTR, SESSION_ATTR, STARTER_ATTR, CommandSpec)
from api.types import Role, Where
from storage.privacy import ERASER_ATTR, EXPORTER_ATTR

TAGS = (COMMAND_ATTR, JOB_ATTR, JOB_ALWAYS_ATTR, JOB_AHEAD_ATTR, JOB_EVERY_ATTR, FLOW_ATTR, FLOW_FILES_ATTR,
        CONFIRMABLE_ATTR, LEAVE_ATTR, SEATS_ATTR, SESSION_ATTR, ROOM_EVENT_ATTR, STARTER_ATTR, PUBLISHED_ATTR,
        EXPORTER_ATTR, ERASER_ATTR)


class StaleDeclarations(RuntimeError):
    """commands/declared.json no longer says what the decorators declare."""


def listing(modules: Iterable[tuple[str, ModuleType]]) -> list[dict[str, Any]]:
    """Every tagged function of these (feature, module) pairs, in order, as JSON-ready data."""
    out = []
    for feature, module in modules:
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            tags = _tags_of(obj)
            if tags:
                out.append({"feature": feature, "module": module.__name__, "name": name, "tags": tags})
    return out


def _tags_of(obj: Any) -> dict[str, Any]:
    tags = {}
    for attr in TAGS:
        value = getattr(obj, attr, None)
        if value is None or attr == COMMAND_ATTR and not (isinstance(value, CommandSpec) and value.handler is obj):
            continue
        if attr == COMMAND_ATTR:
            value = {"name": value.name, "role": value.role.name, "where": value.where.value,
                     "help": value.help_key, "usage": value.usage, "aliases": list(value.aliases),
                     "local": [list(pair) for pair in value.local], "confidential": value.confidential,
                     "user_first": value.user_first}
        elif attr == JOB_EVERY_ATTR:
            value = value.total_seconds()
        elif attr == ROOM_EVENT_ATTR:
            value = list(value)
        tags[attr] = value
    return tags


class Deferred:
    """A declared function known by its module and name: imported when first called. It carries
    the tags the listing names (a job's `always`, a flow's `files`), so the runtime reads them
    without importing it."""

    def __init__(self, module: str, name: str, tags: dict[str, Any]) -> None:
        self.__module__, self.__name__, self.__qualname__ = module, name, name
        self._listed = tags
        self._fn: Any = None
        for attr, value in tags.items():
            setattr(self, attr, _decoded(attr, value, self))

    def resolve(self) -> Any:
        """The function itself (its module imported on first use)."""
        if self._fn is None:
            fn = getattr(importlib.import_module(self.__module__), self.__name__, None)
            if fn is None or _tags_of(fn) != self._listed:
                raise StaleDeclarations(f"{self.__module__}.{self.__name__} no longer declares what "
                                        "commands/declared.json says: run scripts/declarations.py")
            self._fn = fn
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self.__module__}.{self.__name__}>"


def _decoded(attr: str, value: Any, deferred: Deferred) -> Any:
    if attr == COMMAND_ATTR:  # its parameters are known once the handler is imported (full_spec)
        return CommandSpec(name=value["name"], handler=deferred, role=Role[value["role"]], where=Where(value["where"]),
                           help_key=value["help"], usage=value["usage"], aliases=tuple(value["aliases"]), params=(),
                           confidential=value["confidential"], local=tuple(tuple(p) for p in value["local"]),
                           user_first=value["user_first"])
    if attr == JOB_EVERY_ATTR:
        return timedelta(seconds=value)
    if attr == ROOM_EVENT_ATTR:
        return tuple(value)
    return value


def deferred_modules(entries: list[dict[str, Any]]) -> list[tuple[str, ModuleType]]:
    """Stand-ins for the listed modules, holding Deferred functions: what Declared.collect reads."""
    modules: dict[str, tuple[str, ModuleType]] = {}
    for entry in entries:
        feature, module = modules.setdefault(entry["module"], (entry["feature"], ModuleType(entry["module"])))
        setattr(module, entry["name"], Deferred(entry["module"], entry["name"], entry["tags"]))
    return list(modules.values())


def full_spec(spec: CommandSpec) -> CommandSpec:
    """The command's whole declaration, parameters included: its handler imported if deferred."""
    if not isinstance(spec.handler, Deferred):
        return spec
    return replace(getattr(spec.handler.resolve(), COMMAND_ATTR), feature=spec.feature)
