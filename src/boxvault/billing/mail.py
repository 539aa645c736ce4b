"""Billing e-mails, sent when the transaction that caused them commits, to the billing contact (the details'
e-mail, else the account's). A failed send is logged, never undoes the change that caused it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

log = logging.getLogger(__name__)


def _to(account: Any) -> list[str]:
    billing = getattr(account, "billing", None)
    return [getattr(billing, "email", "") or account.email]


def send_invoice_to(invoice: Any, address: str) -> None:
    """One invoice, PDF attached, to one address (a member's "e-mail me this invoice")."""
    from boxvault.billing.pdf import render

    message = EmailMessage(
        f"[boxvault] {'Receipt' if invoice.status == 'paid' else 'Invoice'} {invoice.reference}",
        f"{invoice.reference}: {invoice.total} {invoice.currency}, {invoice.get_status_display()}.\n"
        f"— boxvault, for {invoice.account.name}\n",
        None,
        [address],
    )
    message.attach(f"{invoice.reference}.pdf", render(invoice), "application/pdf")
    message.send()


def _send(account: Any, subject: str, body: str, invoice: Any = None) -> None:
    base = settings.BOXVAULT_BASE_URL.rstrip("/")
    body += f"\n\nBilling: {base}/billing/\n— boxvault, for {account.name}\n"
    message = EmailMessage(f"[boxvault] {subject}", body, None, _to(account))
    if invoice is not None:
        by = getattr(getattr(account, "billing", None), "invoices_by", "attachment")
        if by == "attachment":
            from boxvault.billing.pdf import render

            message.attach(f"{invoice.reference}.pdf", render(invoice), "application/pdf")
        else:
            message.body += f"Download: {base}/billing/invoices/{invoice.pk}/pdf/\n"
    try:
        message.send()
    except Exception:
        log.exception("billing e-mail %r to account %s not sent", subject, account.pk)


def _later(account: Any, subject: str, body: str, invoice: Any = None) -> None:
    transaction.on_commit(lambda: _send(account, subject, body, invoice))


def on_commit_invoice(invoice: Any) -> None:
    _later(
        invoice.account,
        f"Invoice {invoice.reference}",
        f"Invoice {invoice.reference} for {invoice.total} {invoice.currency} "
        f"is due on {invoice.due_at:%Y-%m-%d}.",
        invoice,
    )


def on_commit_receipt(invoice: Any) -> None:
    _later(
        invoice.account,
        f"Receipt {invoice.reference}",
        f"Thank you: {invoice.total} {invoice.currency} received for {invoice.reference}.",
        invoice,
    )


def on_commit_failed(invoice: Any) -> None:
    _later(
        invoice.account,
        "Payment failed",
        f"The payment of {invoice.total} {invoice.currency} for {invoice.reference} failed: "
        f"{invoice.failure}\n"
        "Add or choose another card on the Billing page; the invoice is charged again.",
    )


def on_commit_overdue(invoice: Any) -> None:
    _later(
        invoice.account,
        f"Payment overdue: {invoice.reference}",
        f"Invoice {invoice.reference} for {invoice.total} {invoice.currency} "
        f"was due on {invoice.due_at:%Y-%m-%d}.",
        invoice,
    )


def on_commit_annual_confirmation(profile: Any, starts: datetime) -> None:
    _later(
        profile.account,
        "Annual subscription confirmed",
        f"Your annual subscription starts on {starts:%Y-%m-%d}. An invoice payable within 30 days follows.",
    )


def on_commit_read_only(account: Any) -> None:
    _later(
        account,
        "Backups paused: no subscription or payment",
        "New backups are paused until a subscription is paid. Restores and exports still work.",
    )


def on_commit_removal(account: Any, due: datetime) -> None:
    _later(
        account,
        "Account data will be deleted",
        f"Without payment, this account and all its backups will be deleted after {due:%Y-%m-%d}.",
    )
