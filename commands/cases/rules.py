"""Pure decisions about cases: which state a case may move to. No I/O. (Which identifiers a text
holds is api.identifiers.)"""
from __future__ import annotations

import enum


class State(enum.Enum):
    QUEUED = "queued"        # brought in, waiting to be scheduled
    ASKED = "asked"          # a coordinator proposed a session; the case-bringer decides
    AGREED = "agreed"        # attached to a session by mutual agreement
    WITHDRAWN = "withdrawn"  # taken back by its case-bringer: content erased
    PURGED = "purged"        # retention time over: content erased


class Action(enum.Enum):
    ASSIGN = "assign"
    AGREE = "agree"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    PURGE = "purge"


OPEN = (State.QUEUED, State.ASKED, State.AGREED)
_MOVES = {
    (State.QUEUED, Action.ASSIGN): State.ASKED,
    (State.ASKED, Action.ASSIGN): State.ASKED,  # another session proposed instead
    (State.ASKED, Action.AGREE): State.AGREED,
    (State.ASKED, Action.REFUSE): State.QUEUED,
    **{(s, Action.WITHDRAW): State.WITHDRAWN for s in OPEN},
    **{(s, Action.PURGE): State.PURGED for s in OPEN},
}


class NotAllowed(Exception):
    def __init__(self, state: State, action: Action) -> None:
        super().__init__(f"{action.value} not allowed when {state.value}")
        self.state, self.action = state, action


def move(state: State, action: Action) -> State:
    """The state after `action`, or NotAllowed (an agreed case is not assigned again: its
    case-bringer withdraws it first)."""
    try:
        return _MOVES[(state, action)]
    except KeyError:
        raise NotAllowed(state, action) from None
