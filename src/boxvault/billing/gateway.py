"""Card payments through Stripe's official library. Card numbers never reach boxvault: cards are collected by
Stripe (Elements with a SetupIntent) and we only hold their PaymentMethod ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


class PaymentError(Exception):
    """A charge or card operation Stripe refused; the message is Stripe's sentence for the customer."""


@dataclass(frozen=True)
class Card:
    id: str
    brand: str
    last4: str
    exp: str


def enabled() -> bool:
    return bool(settings.BOXVAULT_STRIPE_SECRET_KEY)


def _client() -> Any:
    import stripe

    client = stripe.StripeClient(
        settings.BOXVAULT_STRIPE_SECRET_KEY,
        base_addresses={"api": settings.BOXVAULT_STRIPE_API_BASE}
        if settings.BOXVAULT_STRIPE_API_BASE
        else {},
        max_network_retries=2,
    )
    return client


def _refused(exc: Exception) -> PaymentError:
    import stripe

    if isinstance(exc, stripe.CardError):
        return PaymentError(exc.user_message or "The card was declined.")
    if isinstance(exc, stripe.InvalidRequestError):
        return PaymentError("Stripe refused the request: the card or payment method is not valid.")
    return PaymentError("The payment service could not be reached; try again later.")


def customer(email: str, name: str, account_id: int) -> str:
    import stripe

    try:
        made = _client().v1.customers.create(
            params={"email": email, "name": name, "metadata": {"account": str(account_id)}}
        )
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    return str(made.id)


def setup_intent(customer_id: str) -> str:
    """The client secret Stripe.js needs to collect a card for later, off-session charges."""
    import stripe

    try:
        intent = _client().v1.setup_intents.create(
            params={"customer": customer_id, "payment_method_types": ["card"], "usage": "off_session"}
        )
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    return str(intent.client_secret)


def attach(customer_id: str, payment_method: str) -> Card:
    import stripe

    try:
        method = _client().v1.payment_methods.attach(payment_method, params={"customer": customer_id})
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    return _card(method)


def detach(payment_method: str) -> None:
    import stripe

    try:
        _client().v1.payment_methods.detach(payment_method)
    except stripe.StripeError as exc:
        raise _refused(exc) from exc


def cards(customer_id: str) -> list[Card]:
    import stripe

    try:
        found = _client().v1.payment_methods.list(params={"customer": customer_id, "type": "card"})
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    return [_card(m) for m in found.data]


def _card(method: Any) -> Card:
    card = method.card
    return Card(method.id, str(card.brand), str(card.last4), f"{card.exp_month:02d}/{card.exp_year}")


def charge(customer_id: str, payment_method: str, amount_cents: int, currency: str, reference: str) -> str:
    """An off-session charge; the PaymentIntent id, or PaymentError when the card is declined."""
    import stripe

    try:
        intent = _client().v1.payment_intents.create(
            params={
                "amount": amount_cents,
                "currency": currency.lower(),
                "customer": customer_id,
                "payment_method": payment_method,
                "off_session": True,
                "confirm": True,
                "metadata": {"invoice": reference},
            },
            options={"idempotency_key": f"charge-{reference}"},
        )
    except stripe.StripeError as exc:
        raise _refused(exc) from exc
    if intent.status != "succeeded":
        raise PaymentError("The payment was not completed.")
    return str(intent.id)


def intent_status(intent_id: str) -> str:
    import stripe

    try:
        return str(_client().v1.payment_intents.retrieve(intent_id).status)
    except stripe.StripeError as exc:
        raise _refused(exc) from exc


def event(payload: bytes, signature: str) -> Any:
    """A webhook's event, verified against the endpoint's secret; ValueError when it is not Stripe's."""
    import stripe

    secret = settings.BOXVAULT_STRIPE_WEBHOOK_SECRET
    if not secret:
        raise ValueError("webhooks are not configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ValueError("bad signature") from exc
    return event.to_dict()
