"""The user's events stream (`GET /events?stream_type=changes`), used to skip users whose Box did not
change since their last snapshot.

Box keeps a user's `changes` stream for a limited time; a position it no longer knows answers an
error, and the caller falls back to a full walk. A stream position is saved only together with the
snapshot it precedes: it is taken *before* that snapshot's walk, so a change made during the walk
shows up in the next check.
"""

from __future__ import annotations

from dataclasses import dataclass

from box_sdk_gen.client import BoxClient

from boxvault.box.api import get_json

PAGE = 500


@dataclass(frozen=True)
class StreamCheck:
    changes: int  # events seen after the position (at most one page of them)
    position: str  # a position to save with the snapshot about to be taken
    pages: int  # requests made


def position_now(client: BoxClient) -> str:
    data = get_json(client, "/2.0/events", {"stream_type": "changes", "stream_position": "now"})
    return str(data.get("next_stream_position") or "0")


def check_since(client: BoxClient, position: str) -> StreamCheck:
    """Are there changes after `position`? One page answers it; the position returned is the end of
    the stream as of this call (asked with `now` only when that page was full)."""
    data = get_json(
        client, "/2.0/events", {"stream_type": "changes", "stream_position": position, "limit": PAGE}
    )
    entries = data.get("entries") or []
    nxt = str(data.get("next_stream_position") or position)
    if len(entries) < PAGE:
        return StreamCheck(len(entries), nxt, 1)
    return StreamCheck(len(entries), position_now(client), 2)
