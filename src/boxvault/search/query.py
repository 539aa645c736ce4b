"""User input → search terms → the backend's query language, with nothing of that language left in.

Every word is reduced to letters and digits, so FTS5 operators (quotes, `*`, `NEAR`, `AND`, `-`, `^`,
parentheses, column filters) and tsquery operators (`&`, `|`, `!`, `<->`, `:*`) are never passed through:
they are either separators or plain, quoted words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

MAX_TEXT = 200
MAX_TERMS = 16
_WORD = re.compile(r"[^\W_]+")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


class BadInput(ValueError):
    """Input the caller can fix; the message says how (a 400)."""


@dataclass
class Criteria:
    phrases: list[list[str]] = field(default_factory=list)  # q: each inner list one word or one phrase
    name: list[str] = field(default_factory=list)  # prefixes of words of the item's name
    author: list[str] = field(default_factory=list)  # prefixes of words of a creator/modifier name or login
    date_from: str | None = None  # YYYY-MM-DD, inclusive
    date_until: str | None = None  # YYYY-MM-DD, exclusive (the day after "to")
    box_user_id: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.phrases or self.name or self.author)

    @property
    def empty(self) -> bool:
        return not (self.has_text or self.date_from or self.date_until)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _checked(label: str, text: str | None) -> str:
    value = (text or "").replace("\x00", "").strip()
    if len(value) > MAX_TEXT:
        raise BadInput(f"{label} is limited to {MAX_TEXT} characters")
    return value


def _words_of(label: str, text: str | None) -> list[str]:
    value = _checked(label, text)
    found = words(value)
    if value and not found:
        raise BadInput(f"{label} has no letters or digits to search for")
    return found


def phrases(text: str | None) -> list[list[str]]:
    """Words, and "quoted phrases" (an unbalanced quote just ends a phrase at the end of the text)."""
    value = _checked("the search text", text).translate(_QUOTES)
    found: list[list[str]] = []
    for i, part in enumerate(value.split('"')):
        if i % 2:
            phrase = words(part)
            if phrase:
                found.append(phrase)
        else:
            found.extend([w] for w in words(part))
    if value and not found:
        raise BadInput("the search text has no letters or digits to search for")
    return found


def _day(label: str, text: str | None) -> date | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]) if len(value) == 10 else date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{label} must be a date written YYYY-MM-DD") from None


def criteria(
    q: str | None = None,
    *,
    author: str | None = None,
    name: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    box_user_id: str | None = None,
) -> Criteria:
    found = Criteria(
        phrases=phrases(q), name=_words_of("the name", name), author=_words_of("the author", author)
    )
    if sum(len(p) for p in found.phrases) + len(found.name) + len(found.author) > MAX_TERMS:
        raise BadInput(f"use at most {MAX_TERMS} words in all")
    start, end = _day("from", date_from), _day("to", date_to)
    if start and end and end < start:
        raise BadInput("the 'to' date is before the 'from' date")
    found.date_from = start.isoformat() if start else None
    found.date_until = (end + timedelta(days=1)).isoformat() if end else None
    user = (box_user_id or "").strip()
    if user and not user.isdigit():
        raise BadInput("box_user_id is a Box user id (digits)")
    found.box_user_id = user or None
    return found


def fts5(c: Criteria) -> str:
    """An FTS5 MATCH expression: every token double-quoted, so it is a literal word."""
    parts = [f'words : "{" ".join(p)}"' for p in c.phrases]
    parts += [f'name : "{w}"*' for w in c.name]
    parts += [f'authors : "{w}"*' for w in c.author]
    return " AND ".join(parts)


def tsqueries(c: Criteria) -> dict[str, str]:
    """tsquery texts per stored vector (words, name, authors); tokens single-quoted lexemes."""
    found: dict[str, str] = {}
    if c.phrases:
        found["words"] = " & ".join("(" + " <-> ".join(f"'{w}'" for w in p) + ")" for p in c.phrases)
    if c.name:
        found["name"] = " & ".join(f"'{w}':*" for w in c.name)
    if c.author:
        found["authors"] = " & ".join(f"'{w}':*" for w in c.author)
    return found
