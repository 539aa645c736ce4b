"""Billing test fixtures: a stateful fake Stripe (localstripe) on loopback, billing turned on, usage rows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from support import free_port, missing

WEBHOOK_SECRET = "whsec_boxvault_tests"
PRICES = {"USD": {"monthly": "3.00", "annual": "30.00"}, "EUR": {"monthly": "2.75", "annual": "27.50"}}


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """`localstripe` (PyPI) as a subprocess: the official stripe library talks to it over HTTP."""
    exe = shutil.which("localstripe") or str(
        __import__("pathlib").Path(sys.executable).parent / "localstripe"
    )
    if not __import__("os").path.exists(exe):
        missing("localstripe (pip install localstripe)")
    port = free_port()
    process = subprocess.Popen(
        [exe, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/v1/customers", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # it answers (401 without a key): up
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def billing_on(settings: Any) -> Any:
    settings.BOXVAULT_BILLING = True
    settings.BOXVAULT_BILLING_PRICES = PRICES
    settings.BOXVAULT_BILLING_TAX_RATES = {"DE": "19", "IL": "17"}
    settings.BOXVAULT_BILLING_TAX_ID_COUNTRIES = ["IL"]
    settings.BOXVAULT_BILLING_SELLER = {"name": "Vault Host Ltd", "address": ["1 Main St", "Springfield"]}
    settings.BOXVAULT_STRIPE_SECRET_KEY = None
    settings.BOXVAULT_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture
def stripe_on(billing_on: Any, localstripe: str) -> str:
    billing_on.BOXVAULT_STRIPE_SECRET_KEY = "sk_test_boxvault"
    billing_on.BOXVAULT_STRIPE_PUBLISHABLE_KEY = "pk_test_boxvault"
    billing_on.BOXVAULT_STRIPE_API_BASE = localstripe
    return localstripe


def card(localstripe: str, number: str = "4242424242424242") -> str:
    """A PaymentMethod as Stripe.js would create it in the browser (the card never reaches boxvault)."""
    import stripe

    client = stripe.StripeClient("sk_test_boxvault", base_addresses={"api": localstripe})
    made = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2035, "cvc": "123"}}
    )
    return str(made.id)


def backed_up(account: Any, task_id: int, users: list[str], when: datetime, name: str = "Box task") -> None:
    """Backup job rows as workers leave them (the metering's source of truth)."""
    from boxvault.jobs.models import Job

    for user in users:
        Job.objects.create(
            account=account,
            kind="backup",
            status=Job.Status.SUCCEEDED,
            task_id=task_id,
            task_name=name,
            box_user_id=user,
            created_at=when,
            finished_at=when,
        )
