"""Everything a feature may use, and nothing else: the decorators (command, flow, job,
confirmable, on_leave, on_seats_changed, on_session_changed, exporter, eraser), Context and the job context, Reply,
UserError, Role, Where, the argument markers, render and i18n. A feature imports from here (and
from storage); it never imports bot or nio."""
from api import i18n, render
from api.context import Attachment, Chat, Context, JobContext, Reply, Runtime, Schedule
from api.decorators import command, confirmable, flow, job, on_leave, on_seats_changed, on_session_changed
from api.i18n import Translator
from api.render import Text, as_text, bold, bullets, code, lines, pill
from api.types import Rest, Role, UserError, UserId, Where, whole_number
from storage.privacy import eraser, exporter

__all__ = [
    "Attachment", "Chat", "Context", "JobContext", "Reply", "Rest", "Role", "Runtime", "Schedule", "Text",
    "Translator", "UserError", "UserId", "Where", "as_text", "bold", "bullets", "code", "command", "confirmable",
    "eraser", "exporter", "flow", "i18n", "job", "lines", "on_leave", "on_seats_changed", "on_session_changed", "pill", "render",
    "whole_number",
]
