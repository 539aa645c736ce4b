"""Encoding details that restic inherits from Go: encoding/json, strconv.Quote and RFC 3339 times.

restic's design.rst ("Trees and Data") asks that JSON be encoded deterministically, like Go's
``encoding/json`` (HTML-safe escapes of ``<``, ``>``, ``&`` and U+2028/U+2029), and that node names go through
``strconv.Quote`` before being stored.
"""

from __future__ import annotations

import functools
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def dumps(obj: Any) -> str:
    """Compact JSON as Go's json.Marshal writes it."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _HTML_RE.sub(lambda m: _HTML[m.group(0)], text)


def dumps_bytes(obj: Any) -> bytes:
    return dumps(obj).encode("utf-8", "surrogatepass")


# --- strconv.Quote / Unquote -------------------------------------------------------------------------------

_SHORT = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote_inner(name: str) -> str:
    """strconv.Quote without the surrounding quotes. Undecodable bytes (surrogateescape) become ``\\xNN``."""
    if name.isprintable() and '"' not in name and "\\" not in name:
        return name
    out: list[str] = []
    for ch in name:
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a raw byte smuggled in by os.fsdecode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate is not valid UTF-8: Go writes U+FFFD
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


_UNQUOTE_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def go_unquote_inner(text: str) -> str:
    """Inverse of go_quote_inner; ``\\xNN`` of a non-ASCII byte comes back as a surrogate escape."""
    if "\\" not in text:
        return text
    raw = bytearray()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "\\":
            raw += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError(f"invalid escape at end of {text!r}")
        esc = text[i + 1]
        if esc in _UNQUOTE_SIMPLE:
            raw += _UNQUOTE_SIMPLE[esc].encode()
            i += 2
        elif esc == "x":
            raw.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif esc == "u":
            raw += chr(int(text[i + 2 : i + 6], 16)).encode("utf-8", "surrogatepass")
            i += 6
        elif esc == "U":
            raw += chr(int(text[i + 2 : i + 10], 16)).encode("utf-8")
            i += 10
        elif esc in "01234567":
            raw.append(int(text[i + 1 : i + 4], 8))
            i += 4
        else:
            raise ValueError(f"invalid escape \\{esc} in {text!r}")
    return raw.decode("utf-8", "surrogateescape")


# --- times: Go's time.Time JSON is RFC 3339 with nanoseconds, trailing zeros trimmed ---------------------

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_time_ns(ns: int, offset_seconds: int = 0) -> str:
    """RFC3339Nano of an instant given in nanoseconds since the epoch, shown at the given UTC offset."""
    seconds, frac = divmod(ns, 1_000_000_000)
    # a backup formats three times per file, and files share their seconds (a checkout, an unpacked
    # archive): the second's text is built once (no-change backups spent 8 % of their time here)
    key = (seconds, offset_seconds)
    head = _SECONDS.get(key)
    if head is None:
        if len(_SECONDS) >= 8192:
            _SECONDS.clear()
        head = _SECONDS[key] = _format_seconds(seconds, offset_seconds)
    if not frac:
        return head[0] + head[1]
    return f"{head[0]}.{frac:09d}".rstrip("0") + head[1]


_SECONDS: dict[tuple[int, int], tuple[str, str]] = {}


def _format_seconds(seconds: int, offset_seconds: int) -> tuple[str, str]:
    """(date and time to the second, zone suffix)."""
    try:
        t = time.gmtime(seconds + offset_seconds)  # C, several times faster than datetime arithmetic
        text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    except (OverflowError, OSError, ValueError):
        local = _EPOCH + timedelta(seconds=seconds + offset_seconds)
        text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.strftime('%H:%M:%S')}"
    if offset_seconds == 0:
        return text, "Z"
    sign = "+" if offset_seconds > 0 else "-"
    hours, minutes = divmod(abs(offset_seconds) // 60, 60)
    return text, f"{sign}{hours:02d}:{minutes:02d}"


def format_datetime(value: datetime) -> str:
    """RFC3339Nano of an aware datetime (a naive one is taken as local time, as Go's time.Now)."""
    if value.tzinfo is None:
        value = value.astimezone()
    offset = value.utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    return format_time_ns(datetime_to_ns(value), offset_s)


def datetime_to_ns(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.astimezone()
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def local_offset(ns: int) -> int:
    """The local UTC offset at that instant, in seconds (Go writes local times with their offset)."""
    return _offset_at_hour(ns // 3_600_000_000_000)


@functools.lru_cache(maxsize=4096)
def _offset_at_hour(hour: int) -> int:
    # time zones change offsets on (quarter-)hour boundaries; one lookup per hour is exact enough here
    ns = hour * 3_600_000_000_000
    try:
        offset = datetime.fromtimestamp(ns // 1_000_000_000, UTC).astimezone().utcoffset()
    except (OverflowError, OSError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset is not None else 0


def format_local_ns(ns: int) -> str:
    return format_time_ns(ns, local_offset(ns))


_NAIVE_EPOCH = datetime(1970, 1, 1)


def parse_time(text: str) -> tuple[int, int]:
    """Parse RFC 3339 (any fraction length) into (nanoseconds since the epoch, UTC offset in seconds)."""
    fast = _parse_fast(text)
    if fast is not None:
        return fast
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(f"invalid RFC 3339 time {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    frac = int((m.group(7) or "").ljust(9, "0") or 0)
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 3600 + int(m.group(11)) * 60) * (1 if m.group(9) == "+" else -1)
    naive = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    delta = naive - _EPOCH
    return (delta.days * 86400 + delta.seconds - offset) * 1_000_000_000 + frac, offset


def _parse_fast(text: str) -> tuple[int, int] | None:
    """The common shapes Go writes, without the regular expression (trees hold three times per node)."""
    if len(text) < 20 or text[10] != "T" or text[19] not in ".Z+-":
        return None
    try:
        base = datetime.fromisoformat(text[:19])
    except ValueError:
        return None
    rest = text[19:]
    frac = 0
    if rest[0] == ".":
        end = len(rest) - 1 if rest[-1] in "Zz" else len(rest) - 6
        digits = rest[1:end]
        if not 1 <= len(digits) <= 9 or not digits.isdigit():
            return None
        frac = int(digits.ljust(9, "0"))
        rest = rest[end:]
    if rest == "Z":
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        return None
    delta = base - _NAIVE_EPOCH
    return (delta.days * 86400 + delta.seconds - offset) * 1_000_000_000 + frac, offset


def parse_datetime(text: str) -> datetime:
    """An aware datetime (microsecond precision) in the offset the text was written with."""
    ns, offset = parse_time(text)
    tz = timezone(timedelta(seconds=offset))
    return (_EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)
