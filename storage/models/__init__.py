"""SQLAlchemy models, one module per aggregate. Every time is stored in UTC (timezone-aware columns).

Importing this package imports every model, so Base.metadata is whole (Alembic, create_all);
callers keep writing `from storage.models import X`."""
from storage.models.base import NAMING, Base, UTCDateTime
from storage.models.runtime import ProcessedEvent, KeyValue, DirectRoom, OutboxItem, ScheduledAction, PendingDecryption, Conversation
from storage.models.membership import Member, Membership, Network, NetworkRoom
from storage.models.events import Event, EventWorkshop, Registration, EventInvitation, EventQuestion
from storage.models.sessions import GroupSession, SessionRoomMember, SessionMember, SessionContribution, SessionStep, SessionAction, SessionReport
from storage.models.feedback import FeedbackAnswer, FeedbackResponded, FeedbackProgress
from storage.models.cases import Case
from storage.models.polls import PollSettings, Poll, PollVote, PollVoter, PollCount, PollReceipt
from storage.models.topics import Topic, TopicVote

__all__ = ["NAMING", "Base", "UTCDateTime", "ProcessedEvent", "KeyValue", "DirectRoom", "OutboxItem", "ScheduledAction", "PendingDecryption", "Conversation", "Member", "Membership", "Network", "NetworkRoom", "Event", "EventWorkshop", "Registration", "EventInvitation", "EventQuestion", "GroupSession", "SessionRoomMember", "SessionMember", "SessionContribution", "SessionStep", "SessionAction", "SessionReport", "FeedbackAnswer", "FeedbackResponded", "FeedbackProgress", "Case", "PollSettings", "Poll", "PollVote", "PollVoter", "PollCount", "PollReceipt", "Topic", "TopicVote"]
