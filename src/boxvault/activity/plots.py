"""Backup size and duration over time per task, drawn on the server as inline SVG (no script, no CDN).

One point per task and day: the day's backups of that task summed (every Box user of a task is its own job,
so the task's size for a day is the sum over its users; likewise the time spent)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from boxvault.activity.models import ActivityEvent

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 360, 160, 56, 10, 12, 24


@dataclass
class Plot:
    task_name: str
    title: str
    svg: SafeString
    points: list[tuple[date, float]]


def backup_series(events: QuerySet[ActivityEvent]) -> dict[tuple[int | None, str], list[dict[str, Any]]]:
    rows = (
        events.filter(activity="Backup", status__in=["succeeded", "partially_succeeded"])
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("task_id", "task_name", "day")
        .annotate(size=Sum("size_bytes"), seconds=Sum("execution_seconds"))
        .order_by("task_name", "day")
    )
    series: dict[tuple[int | None, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        series[(row["task_id"], row["task_name"])].append(row)
    return series


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


def chart(points: list[tuple[date, float]], label: str, fmt: Any) -> SafeString:
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    top = max((v for _, v in points), default=0.0) or 1.0
    first, last = (points[0][0], points[-1][0]) if points else (date.today(), date.today())
    span = max(1, (last - first).days)

    def xy(day: date, value: float) -> tuple[float, float]:
        x = PAD_LEFT + (inner_w * (day - first).days / span if len(points) > 1 else inner_w / 2)
        return round(x, 1), round(PAD_TOP + inner_h * (1 - value / top), 1)

    coords = [xy(d, v) for d, v in points]
    dots = format_html_join(
        "",
        '<circle class="dot" cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        ((x, y, d.isoformat(), fmt(v)) for (x, y), (d, v) in zip(coords, points, strict=True)),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg">'
        '<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>'
        '<line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>'
        '<text x="{lt}" y="{ty}" text-anchor="end">{top}</text>'
        '<text x="{lt}" y="{b}" text-anchor="end">0</text>'
        '<text x="{l}" y="{dy}">{first}</text><text x="{r}" y="{dy}" text-anchor="end">{last}</text>'
        '<polyline class="line" points="{poly}"/>{dots}</svg>',
        w=WIDTH,
        h=HEIGHT,
        label=label,
        l=PAD_LEFT,
        r=WIDTH - PAD_RIGHT,
        t=PAD_TOP,
        b=HEIGHT - PAD_BOTTOM,
        lt=PAD_LEFT - 4,
        ty=PAD_TOP + 8,
        top=fmt(top),
        dy=HEIGHT - 6,
        first=first.isoformat(),
        last=last.isoformat(),
        poly=" ".join(f"{x},{y}" for x, y in coords),
        dots=dots,
    )


def plots(events: QuerySet[ActivityEvent]) -> list[Plot]:
    out: list[Plot] = []
    for (_, name), rows in backup_series(events).items():
        task = name or "(unnamed task)"
        sizes = [(r["day"], float(r["size"] or 0)) for r in rows]
        seconds = [(r["day"], float(r["seconds"] or 0)) for r in rows]
        size_fmt, time_fmt = (lambda v: filesizeformat(int(v))), _duration
        out.append(Plot(task, "Backup size", chart(sizes, f"Backup size of {task}", size_fmt), sizes))
        out.append(
            Plot(task, "Backup duration", chart(seconds, f"Backup duration of {task}", time_fmt), seconds)
        )
    return out
