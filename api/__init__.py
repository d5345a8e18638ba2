"""Everything a feature may use, and nothing else: the decorators (command, flow, job,
confirmable, on_leave, on_seats_changed, on_session_changed, exporter, eraser), Context and the job context, Reply,
UserError, Role, Where, the argument markers, render and i18n. A feature imports from here (and
from storage); it never imports bot or nio."""
from api import i18n, render
from api.context import Attachment, Chat, Context, JobContext, Reply, Runtime, Schedule
from api.decorators import (command, confirmable, flow, job, on_leave, on_published, on_room_event, on_seats_changed,
                            on_session_changed, starts_flow)
from api.i18n import Translator
from api.render import Text, as_text, bold, bullets, code, lines, pill
from api.types import Rest, Role, RoomEvent, UserError, UserId, Where, whole_number
from storage.privacy import eraser, exporter

__all__ = [
    "Attachment", "Chat", "Context", "JobContext", "Reply", "Rest", "Role", "RoomEvent", "Runtime", "Schedule", "Text",
    "Translator", "UserError", "UserId", "Where", "as_text", "bold", "bullets", "code", "command", "confirmable",
    "eraser", "exporter", "flow", "i18n", "job", "lines", "on_leave", "on_published", "on_room_event", "on_seats_changed",
    "on_session_changed", "pill", "render", "starts_flow",
    "whole_number",
]
