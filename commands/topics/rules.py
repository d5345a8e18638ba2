"""Pure topic rules: what a proposal may be, and whether one more vote fits a member's limit."""
from __future__ import annotations

MAX_TEXT = 300
MIN_TEXT = 3


def proposal_problem(text: str) -> str | None:
    """The catalogue key of what is wrong with a proposal's text, or None."""
    clean = " ".join(text.split())
    if len(clean) < MIN_TEXT:
        return "topics.propose.too_short"
    if len(clean) > MAX_TEXT:
        return "topics.propose.too_long"
    return None


def may_vote(open_votes: int, limit: int) -> bool:
    """One more vote fits while the member has fewer than `limit` on open topics."""
    return open_votes < limit
