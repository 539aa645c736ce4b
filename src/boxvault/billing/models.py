"""Billing rows: the trial, each account's subscription and details, invoices with their lines, and the Stripe
events already handled. Amounts are Decimal in the invoice's currency (never floats)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from django.db import models


class Trial(models.Model):
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="trial")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"trial of {self.account_id} until {self.ends_at:%Y-%m-%d}"

    def days_left(self, now: datetime) -> int:
        return max(0, (self.ends_at - now).days)


class Profile(models.Model):
    """One account's plan, state and billing details."""

    class Plan(models.TextChoices):
        NONE = "none", "No subscription"
        MONTHLY = "monthly", "Monthly"
        ANNUAL = "annual", "Annual"

    class State(models.TextChoices):
        OK = "ok", "Paid"
        DUE = "due", "Payment due"
        OVERDUE = "overdue", "Payment overdue"
        FAILED = "failed", "Payment failed"

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="billing")
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.NONE)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OK)
    state_since = models.DateTimeField(null=True, blank=True)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    # The first day billed: the end of the trial when subscribing during it.
    starts_at = models.DateTimeField(null=True, blank=True)
    # The end of the period billed last (monthly) or of the paid year (annual).
    billed_until = models.DateTimeField(null=True, blank=True)
    purchase_order = models.CharField(max_length=64, blank=True)
    read_only_since = models.DateTimeField(null=True, blank=True)
    # details printed on invoices
    currency = models.CharField(max_length=3, default="USD")
    title = models.CharField(max_length=32, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    tax_id = models.CharField(max_length=64, blank=True)
    address1 = models.CharField(max_length=200, blank=True)
    address2 = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)
    state_region = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    invoices_by = models.CharField(
        max_length=16, choices=[("attachment", "Attachment"), ("link", "Link")], default="attachment"
    )
    stripe_customer = models.CharField(max_length=64, blank=True)
    stripe_card = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"billing of {self.account_id}: {self.plan}/{self.state}"


class Counter(models.Model):
    """The last invoice number per seller: taken under a row lock, so numbers have no gaps and no repeats."""

    seller = models.CharField(max_length=64, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.seller}: {self.last}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        VOID = "void", "Void"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="invoices")
    seller = models.CharField(max_length=64)
    number = models.PositiveIntegerField()
    plan = models.CharField(max_length=16)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    issued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_method = models.CharField(max_length=64, blank=True)
    payment_reference = models.CharField(max_length=128, blank=True)
    failure = models.CharField(max_length=300, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # The customer and seller as they were when issued: an invoice never changes afterwards.
    billed_to = models.JSONField(default=dict)
    seller_details = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar[list[str]] = ["-issued_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["seller", "number"], name="billing_invoice_number_unique")
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"{self.seller.upper()}-{self.number:06d}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.description}"


class WebhookEvent(models.Model):
    """A Stripe event handled once: a replay finds its id here and changes nothing."""

    event_id = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=64)
    created = models.BigIntegerField(default=0)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"
