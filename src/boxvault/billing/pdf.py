"""Invoice and receipt PDFs (ReportLab): seller and customer, lines, tax, total, payments."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from boxvault.billing.models import Invoice


def _party(details: dict[str, object], keys: tuple[str, ...]) -> str:
    parts = [str(details.get(k) or "") for k in keys]
    return "<br/>".join(p for p in parts if p)


def render(invoice: Invoice) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Invoice {invoice.reference}")
    seller = dict(invoice.seller_details)
    seller_text = "<br/>".join(
        [str(seller.get("name", ""))]
        + [str(a) for a in seller.get("address", []) or []]  # type: ignore[union-attr]
        + ([f"Tax ID: {seller['tax_id']}"] if seller.get("tax_id") else [])
    )
    customer = dict(invoice.billed_to)
    name = " ".join(str(customer.get(k) or "") for k in ("title", "first_name", "last_name")).strip()
    customer_text = _party(
        {**customer, "name": name},
        (
            "company",
            "account",
            "name",
            "address1",
            "address2",
            "postal_code",
            "city",
            "state_region",
            "country",
        ),
    )
    if customer.get("tax_id"):
        customer_text += f"<br/>Tax ID: {customer['tax_id']}"
    if customer.get("purchase_order"):
        customer_text += f"<br/>PO: {customer['purchase_order']}"
    kind = "Receipt" if invoice.status == Invoice.Status.PAID else "Invoice"
    story = [
        Paragraph(f"{kind} {invoice.reference}", styles["Title"]),
        Table(
            [
                [
                    Paragraph(f"<b>From</b><br/>{seller_text}", styles["Normal"]),
                    Paragraph(f"<b>To</b><br/>{customer_text}", styles["Normal"]),
                ]
            ],
            colWidths=[250, 250],
        ),
        Spacer(1, 12),
        Paragraph(
            f"Issued {invoice.issued_at:%Y-%m-%d} · due {invoice.due_at:%Y-%m-%d} · period "
            f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} · {invoice.plan.title()}",
            styles["Normal"],
        ),
        Spacer(1, 12),
    ]
    rows = [["Quantity", "Description", "Unit price", "Total"]]
    for line in invoice.lines.all():
        rows.append([str(line.quantity), line.description, f"{line.unit_price}", f"{line.amount}"])
    cur = invoice.currency
    rows += [
        ["", "Subtotal", "", f"{invoice.subtotal} {cur}"],
        ["", f"Tax ({invoice.tax_rate}%)", "", f"{invoice.tax} {cur}"],
        ["", "Total", "", f"{invoice.total} {cur}"],
    ]
    table = Table(rows, colWidths=[60, 260, 80, 100])
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story += [table, Spacer(1, 12)]
    if invoice.status == Invoice.Status.PAID and invoice.paid_at:
        story.append(
            Paragraph(
                f"Paid {invoice.total} {cur} by {invoice.payment_method or 'payment'} "
                f"on {invoice.paid_at:%Y-%m-%d}.",
                styles["Normal"],
            )
        )
    else:
        story.append(
            Paragraph(f"Amount due: {invoice.total} {cur} by {invoice.due_at:%Y-%m-%d}.", styles["Normal"])
        )
    doc.build(story)
    return buffer.getvalue()
