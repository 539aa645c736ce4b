"""Billing end to end against localstripe with the official stripe library, on a fake clock."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing.fixtures import WEBHOOK_SECRET, backed_up, card
from support import require_binary

pytestmark = pytest.mark.django_db(transaction=True)


def _put(client: Any, url: str, body: Any) -> Any:
    return client.put(url, body, content_type="application/json")


def _post(client: Any, url: str, body: Any) -> Any:
    return client.post(url, body, content_type="application/json")


def _due(moment: Any) -> dict[str, int]:
    from boxvault.billing import services
    from boxvault.core import clock

    with clock.frozen_at(moment):
        return services.run_due()


def _pdf_text(data: bytes, tmp_path: Any) -> str:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    assert data.startswith(b"%PDF")
    pdftoppm, pdftotext = require_binary("pdftoppm"), require_binary("pdftotext")  # poppler-utils
    subprocess.run(
        [pdftoppm, "-png", "-r", "40", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")], check=True
    )
    assert list(tmp_path.glob("page*.png")), "the first page renders"
    return subprocess.run([pdftotext, str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_billing_is_off_by_default(client: Any, admin: Any) -> None:
    from portal.fixtures import login

    login(client, admin.user)
    assert client.get("/billing/").status_code == 404
    assert client.get("/api/v1/billing/").status_code == 404
    home = client.get("/").content
    assert b'href="/billing/"' not in home and b"billing-banner" not in home


def test_monthly_subscription_charged_receipt_decline_and_recovery(
    client: Any, admin: Any, stripe_on: str, mailoutbox: Any, tmp_path: Any
) -> None:
    from boxvault.billing.models import Invoice, Profile
    from boxvault.core import clock
    from portal.fixtures import login

    login(client, admin.user)
    account = admin.account
    trial_end = account.trial.ends_at
    assert (
        _put(client, "/api/v1/billing/details/", {"country": "US", "company": "Acme Inc"}).status_code == 200
    )
    response = _post(client, "/api/v1/billing/subscribe/", {"plan": "monthly"})
    assert response.status_code == 400 and "card" in response.json()["detail"]
    added = _post(client, "/api/v1/billing/cards/", {"payment_method": card(stripe_on)})
    assert added.status_code == 201 and added.json()["last4"] == "4242"
    assert _post(client, "/api/v1/billing/subscribe/", {"plan": "monthly"}).status_code == 201
    profile = Profile.objects.get(account=account)
    assert profile.starts_at == trial_end  # subscribing in the trial: billing starts when it ends

    # first month after the trial: 3 distinct users (one backed up twice), another task 1 user
    backed_up(account, 1, ["u1", "u2", "u3"], trial_end + timedelta(days=2))
    backed_up(account, 1, ["u1"], trial_end + timedelta(days=9))
    backed_up(account, 2, ["x9"], trial_end + timedelta(days=20), name="Second")
    backed_up(account, 1, ["u4"], trial_end - timedelta(days=1))  # in the trial: not billed
    with clock.frozen_at(trial_end + timedelta(days=10)):
        forecast = client.get("/api/v1/billing/").json()["forecast"]
        assert {r["task"]: r["quantity"] for r in forecast["rows"]} == {"Box task": 3}
    mailoutbox.clear()
    first_run = trial_end + timedelta(days=32)
    assert _due(first_run)["monthly"] == 1
    assert _due(first_run)["monthly"] == 0  # once per period
    invoice = Invoice.objects.get(account=account)
    assert invoice.status == Invoice.Status.PAID and invoice.payment_method == "card"
    assert invoice.total == Decimal("12.00") and invoice.tax == Decimal("0.00")
    assert sorted((ln.quantity, str(ln.amount)) for ln in invoice.lines.all()) == [(1, "3.00"), (3, "9.00")]
    receipts = [m for m in mailoutbox if "Receipt" in m.subject]
    assert len(receipts) == 1 and receipts[0].attachments[0][0] == f"{invoice.reference}.pdf"
    text = _pdf_text(receipts[0].attachments[0][1], tmp_path)
    assert invoice.reference in text and "12.00" in text and "Vault Host Ltd" in text and "Acme Inc" in text

    # a declined card: Payment failed, banner, e-mail; then a new card and a retry
    declined = card(stripe_on, "4000000000000341")
    assert _post(client, "/api/v1/billing/cards/", {"payment_method": declined}).status_code == 201
    backed_up(account, 1, ["u1", "u2"], first_run + timedelta(days=1))
    mailoutbox.clear()
    _due(trial_end + timedelta(days=64))
    failed = Invoice.objects.filter(account=account, status=Invoice.Status.FAILED).get()
    assert failed.number == invoice.number + 1 and "declined" in failed.failure
    assert Profile.objects.get(account=account).state == Profile.State.FAILED
    assert any(m.subject.endswith("Payment failed") and "declined" in m.body for m in mailoutbox)
    home = client.get("/").content.decode()
    assert "Payment failed" in home, home[home.find("<main") :][:1500]
    assert _post(client, "/api/v1/billing/cards/", {"payment_method": card(stripe_on)}).status_code == 201
    page = client.post("/billing/", {"action": "retry"})
    assert page.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Invoice.Status.PAID
    assert Profile.objects.get(account=account).state == Profile.State.OK
    cards = client.get("/api/v1/billing/cards/").json()["results"]
    assert len(cards) == 3 and sum(c["active"] for c in cards) == 1
    assert client.delete(f"/api/v1/billing/cards/{declined}/").status_code == 204
    assert len(client.get("/api/v1/billing/cards/").json()["results"]) == 2


def test_webhooks_signed_idempotent_and_order_safe(client: Any, admin: Any, stripe_on: str) -> None:
    import stripe

    from boxvault.billing import services
    from boxvault.billing.models import Invoice, Profile
    from boxvault.billing.money import add_months

    account = admin.account
    profile = services.profile_for(account)
    now = account.trial.ends_at
    invoice = services.issue(
        profile,
        plan="monthly",
        start=now,
        end=add_months(now, 1),
        lines=[("users", 2, Decimal("3.00"))],
        due=now,
    )
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.FAILED, payment_reference="pi_late")
    Profile.objects.filter(pk=profile.pk).update(state=Profile.State.FAILED)

    def event(event_id: str, kind: str) -> tuple[str, str]:
        payload = json.dumps(
            {
                "id": event_id,
                "type": kind,
                "created": 1,
                "data": {"object": {"id": "pi_late", "metadata": {}}},
            }
        )
        stamp = int(time.time())
        signature = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload}", WEBHOOK_SECRET)
        return payload, f"t={stamp},v1={signature}"

    payload, header = event("evt_1", "payment_intent.succeeded")
    forged = client.post(
        "/billing/stripe/webhook/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header.replace("v1=", "v1=0"),
    )
    assert forged.status_code == 400
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.FAILED
    ok = client.post(
        "/billing/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert ok.status_code == 200 and ok.content == b"payment_intent.succeeded"
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    again = client.post(
        "/billing/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert again.content == b"duplicate"
    # a failure that arrives after the success (out of order) changes nothing
    payload, header = event("evt_0", "payment_intent.payment_failed")
    client.post(
        "/billing/stripe/webhook/", payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert Profile.objects.get(pk=profile.pk).state == Profile.State.OK


def test_annual_invoice_reminder_renewal_and_bank_transfer(
    client: Any, admin: Any, billing_on: Any, mailoutbox: Any, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from boxvault.billing.cli import app
    from boxvault.billing.models import Invoice, Profile
    from boxvault.core import clock
    from portal.fixtures import login

    login(client, admin.user)
    account = admin.account
    start = account.trial.ends_at + timedelta(days=1)
    backed_up(account, 1, ["a", "b", "c", "d"], start - timedelta(days=3))
    assert _put(client, "/api/v1/billing/details/", {"country": "DE", "currency": "EUR"}).status_code == 200
    with clock.frozen_at(start):
        subscribed = _post(
            client, "/api/v1/billing/subscribe/", {"plan": "annual", "purchase_order": "PO-77"}
        )
    assert subscribed.status_code == 201, subscribed.content
    invoice = Invoice.objects.get(account=account)
    # 4 users x 27.50 = 110.00; German VAT 19 % = 20.90; to the cent
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("110.00"),
        Decimal("20.90"),
        Decimal("130.90"),
    )
    assert invoice.due_at == start + timedelta(days=30) and invoice.currency == "EUR"
    subjects = [m.subject for m in mailoutbox]
    assert any("Annual subscription confirmed" in s for s in subjects)
    assert any(f"Invoice {invoice.reference}" in s for s in subjects)
    text = _pdf_text(client.get(f"/api/v1/billing/invoices/{invoice.pk}/pdf/").content, tmp_path)
    assert "130.90" in text and "PO-77" in text and "Tax (19.00%)" in text

    mailoutbox.clear()
    _due(start + timedelta(days=31))
    assert any("Payment overdue" in m.subject for m in mailoutbox)
    assert Profile.objects.get(account=account).state == Profile.State.OVERDUE
    _due(start + timedelta(days=33))  # reminded at most weekly
    assert sum("Payment overdue" in m.subject for m in mailoutbox) == 1

    result = CliRunner().invoke(app, ["mark-paid", invoice.reference], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert CliRunner().invoke(app, ["mark-paid", invoice.reference]).exit_code == 1  # already paid

    _due(start + timedelta(days=300))
    assert Invoice.objects.filter(account=account).count() == 1
    _due(start + timedelta(days=340))  # 30 days before the year ends: the renewal
    renewal = Invoice.objects.filter(account=account).exclude(pk=invoice.pk).get()
    assert renewal.number == invoice.number + 1 and renewal.period_start == invoice.period_end


def test_bad_input_and_permissions(client: Any, admin: Any, outsider: Any, billing_on: Any) -> None:
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.billing import services
    from boxvault.billing.money import add_months
    from portal.fixtures import PASSWORD, login

    login(client, admin.user)
    bad = [
        {"country": "XX"},
        {"currency": "JPY"},
        {"email": "not-an-email"},
        {"invoices_by": "fax"},
        {"company": "x" * 500},
        {"country": "IL"},  # needs a tax ID
    ]
    for body in bad:
        response = _put(client, "/api/v1/billing/details/", body)
        assert response.status_code == 400 and response.json()["detail"], body
    assert _put(client, "/api/v1/billing/details/", ["x"]).status_code == 400
    assert _put(client, "/api/v1/billing/details/", {"country": "IL", "tax_id": "IL123"}).status_code == 200
    assert _post(client, "/api/v1/billing/subscribe/", {"plan": "weekly"}).status_code == 400
    monthly = _post(client, "/api/v1/billing/subscribe/", {"plan": "monthly"})
    assert monthly.status_code == 400 and "bank transfer" in monthly.json()["detail"]  # no Stripe keys
    assert _post(client, "/api/v1/billing/cards/", {"payment_method": "4242424242424242"}).status_code == 400
    page = client.post("/billing/", {"action": "details", "country": "ZZ"})
    assert page.status_code == 400 and b"not a country code" in page.content

    profile = services.profile_for(admin.account)
    now = admin.account.trial.ends_at
    invoice = services.issue(
        profile,
        plan="monthly",
        start=now,
        end=add_months(now, 1),
        lines=[("users", 1, Decimal("3.00"))],
        due=now,
    )
    viewer = add_member(
        for_user(admin.user),
        email="v@a.example",
        password=PASSWORD,
        operations=["view_settings"],
        services=["box"],
    )
    login(client, viewer.user)
    for url in ("/billing/", "/api/v1/billing/", f"/api/v1/billing/invoices/{invoice.pk}/pdf/"):
        assert client.get(url).status_code == 403, url
    login(client, outsider.user)
    assert client.get(f"/api/v1/billing/invoices/{invoice.pk}/pdf/").status_code == 404
    assert client.get(f"/billing/invoices/{invoice.pk}/pdf/").status_code == 404
    assert client.get("/api/v1/billing/invoices/").json()["count"] == 0


def test_read_only_after_the_trial_without_subscription(
    client: Any, admin: Any, billing_on: Any, mailoutbox: Any
) -> None:
    from boxvault.billing import services
    from boxvault.billing.models import Profile
    from portal.fixtures import login

    login(client, admin.user)
    end = admin.account.trial.ends_at
    assert b"Trial:" in client.get("/").content
    assert _due(end - timedelta(hours=1))["read_only"] == 0
    assert _due(end + timedelta(hours=1))["read_only"] == 1
    assert services.read_only(admin.account)
    assert b"Backups are paused" in client.get("/").content
    assert any("Backups paused" in m.subject for m in mailoutbox)
    removal_at = end + timedelta(hours=1, days=61)
    assert _due(removal_at)["removal"] == 1
    admin.account.refresh_from_db()
    assert admin.account.removal_due_at is not None
    assert Profile.objects.get(account=admin.account).read_only_since is not None


def test_a_read_only_account_takes_no_new_backup_but_still_restores(
    client: Any, admin: Any, billing_on: Any, make_task: Any
) -> None:
    from boxvault.backups import schedule
    from boxvault.backups.models import TaskUser
    from boxvault.core import clock
    from portal.fixtures import login

    login(client, admin.user)
    task = make_task()
    users = [u.box_user_id for u in TaskUser.objects.filter(task=task)]
    TaskUser.objects.filter(task=task).update(
        status=TaskUser.Status.ACTIVE, next_run_at=admin.account.trial.ends_at
    )
    later = admin.account.trial.ends_at + timedelta(hours=2)
    assert schedule.due(later).count() == len(users)
    _due(later - timedelta(hours=1))  # the trial ended without a subscription: read-only
    assert schedule.due(later).count() == 0
    with clock.frozen_at(later):
        refused = _post(
            client,
            f"/api/v1/tasks/{task.pk}/users/actions/",
            {"action": "backup_now", "box_user_ids": users[:1]},
        )
    assert refused.status_code == 400 and "read-only" in refused.json()["detail"]
    billing_on.BOXVAULT_BILLING = False  # billing switched off: nothing of it applies
    assert schedule.due(later).count() == len(users)


def test_receipt_reaches_a_real_smtp_server_and_members_see_only_what_they_may(
    client: Any, admin: Any, billing_on: Any
) -> None:
    import email
    import threading

    from aiosmtpd.controller import Controller

    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member
    from boxvault.billing import services
    from boxvault.billing.money import add_months
    from portal.fixtures import PASSWORD, login
    from support import free_port, wait_for

    received: list[Any] = []
    lock = threading.Lock()

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with lock:
                received.append(email.message_from_bytes(envelope.content))
            return "250 OK"

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        billing_on.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        billing_on.EMAIL_HOST, billing_on.EMAIL_PORT = "127.0.0.1", port
        profile = services.profile_for(admin.account)
        now = admin.account.trial.ends_at
        invoice = services.issue(
            profile,
            plan="annual",
            start=now,
            end=add_months(now, 12),
            lines=[("users", 3, Decimal("30.00"))],
            due=now,
        )
        login(client, admin.user)
        sent = _post(client, f"/api/v1/billing/invoices/{invoice.pk}/email/", {})
        assert sent.status_code == 200 and sent.json()["sent_to"] == admin.user.email
        services.mark_paid(invoice.reference)
        wait_for(lambda: len(received) >= 2, timeout=20, what="two e-mails")
    finally:
        controller.stop()
    subjects = sorted(m["Subject"] for m in received)
    assert subjects == [f"[boxvault] Invoice {invoice.reference}", f"[boxvault] Receipt {invoice.reference}"]
    for message in received:
        pdfs = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1 and pdfs[0].get_payload(decode=True).startswith(b"%PDF")

    # a member who may see billing but not its messages: the page, no banner; the other way round: the banner
    billing_on.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    payer = add_member(
        for_user(admin.user), email="p@a.example", password=PASSWORD, operations=["billing"], services=[]
    )
    told = add_member(
        for_user(admin.user),
        email="t@a.example",
        password=PASSWORD,
        operations=["billing_notifications"],
        services=[],
    )
    login(client, payer.user)
    assert (
        client.get("/billing/").status_code == 200
        and b"billing-banner" not in client.get("/billing/").content
    )
    login(client, told.user)
    assert client.get("/billing/").status_code == 403
    home = client.get("/").content
    assert b"billing-banner" in home and b'href="/billing/"' not in home


def test_money_refuses_what_is_not_an_amount() -> None:
    from boxvault.billing.money import add_months, line_amount, money, tax_on

    for bad in ("-1", "NaN", "Infinity", "abc", None):
        with pytest.raises(ValueError):
            money(bad)
    assert money("2.005") == Decimal("2.01") and line_amount(3, Decimal("0.335")) == Decimal("1.01")
    assert tax_on(Decimal("10.05"), Decimal("17")) == Decimal("1.71")
    from datetime import UTC, datetime

    assert add_months(datetime(2027, 1, 31, tzinfo=UTC), 1) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2027, 11, 15, tzinfo=UTC), 3) == datetime(2028, 2, 15, tzinfo=UTC)


def test_card_form_gets_a_setup_intent_from_stripe(client: Any, admin: Any, stripe_on: str) -> None:
    from portal.fixtures import login

    login(client, admin.user)
    page = client.get("/billing/")
    assert b'id="card-form"' in page.content and b"pk_test_boxvault" in page.content
    setup = client.post("/billing/cards/setup/")
    assert setup.status_code == 200 and setup.json()["client_secret"].startswith("seti_")
    assert client.get("/billing/cards/setup/").status_code == 405
