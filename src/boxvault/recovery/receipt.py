"""The erasure receipt as a PDF (reportlab): the same facts as the JSON receipt, for people and auditors."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape


def _size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def render_pdf(receipt: dict[str, Any]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    mono = styles["BodyText"].clone("mono", fontName="Courier", fontSize=7, leading=9)

    def p(text: Any, style: Any = body) -> Any:
        return Paragraph(escape(str(text)), style)

    requested = receipt.get("requested") or {}
    storage = receipt.get("storage") or {}
    task, user = receipt.get("task") or {}, receipt.get("box_user") or {}
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),  # a snapshot id is 64 hex digits: two per row need the width
        title=f"Erasure receipt {receipt.get('erasure_id')}",
        author="boxvault",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    facts = [
        ("Erasure", receipt.get("erasure_id")),
        ("Account", (receipt.get("account") or {}).get("name")),
        ("Backup task", f"{task.get('name')} (id {task.get('id')})"),
        ("Box user", f"{user.get('login')} (id {user.get('id')})"),
        ("Requested by", requested.get("by")),
        ("Requested at", requested.get("at")),
        ("Reason", requested.get("reason")),
        ("Whole user", "yes" if requested.get("whole_user") else "no"),
        ("Job", receipt.get("job_id")),
        ("Started", receipt.get("started_at")),
        ("Bytes left storage at", receipt.get("bytes_left_storage_at")),
        ("Completed", receipt.get("completed_at")),
        ("Storage freed", f"{_size(int(storage.get('bytes_removed') or 0))} "
         f"({storage.get('packs_deleted')} pack(s) deleted, {storage.get('packs_written')} written)"),
        ("Catalog rows removed", receipt.get("catalog_rows_removed")),
        ("Zip exports cleaned", receipt.get("zip_exports_cleaned")),
        ("Log lines redacted", receipt.get("log_lines_redacted")),
        ("Verification", receipt.get("verified")),
    ]  # fmt: skip
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
        ]
    )
    story: list[Any] = [
        Paragraph("Receipt: GDPR right to erasure", styles["Title"]),
        Table([[p(k), p(v)] for k, v in facts], colWidths=[50 * mm, 205 * mm], style=grid),
        Spacer(1, 6 * mm),
        Paragraph("Requested paths", styles["Heading2"]),
        *[p(path, mono) for path in requested.get("paths") or []],
    ]
    also = receipt.get("also_erased") or []
    if also:
        story += [Paragraph("Also erased (stored previous versions)", styles["Heading2"])]
        story += [p(path, mono) for path in also]
    rows = [[p("Snapshot time", small), p("Old id", small), p("New id", small), p("Items", small)]]
    for snap in receipt.get("snapshots_rewritten") or []:
        rows.append(
            [
                p(snap.get("time"), small),
                p(snap.get("old"), mono),
                p(snap.get("new") or "(deleted)", mono),
                p("all" if snap.get("items_removed") is None else snap.get("items_removed"), small),
            ]
        )
    story += [
        Spacer(1, 4 * mm),
        Paragraph(f"Snapshots rewritten: {len(rows) - 1}", styles["Heading2"]),
        Table(rows, colWidths=[45 * mm, 95 * mm, 95 * mm, 20 * mm], style=grid, repeatRows=1),
    ]
    doc.build(story)
    return buffer.getvalue()
