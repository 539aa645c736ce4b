"""The Billing page (status, forecast, history, details, cards, subscribe) and Stripe's webhook."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from boxvault.billing import gateway, pdf, queries, services
from boxvault.billing.models import Invoice
from boxvault.core import clock
from boxvault.core.access import requires
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation


def _enabled() -> None:
    if not services.enabled():
        raise Http404("billing is not enabled on this server")


@require_http_methods(["GET", "POST"])
@requires(Operation.BILLING)
def home(request: HttpRequest) -> HttpResponse:
    _enabled()
    access = request.access  # type: ignore[attr-defined]
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "subscribe":
                services.subscribe(
                    access,
                    request.POST.get("plan", ""),
                    purchase_order=request.POST.get("purchase_order", ""),
                )
            elif action == "details":
                services.update_details(
                    access,
                    **{f: request.POST.get(f, "") for f in services.DETAIL_FIELDS if f in request.POST},
                )
            elif action == "card_active":
                services.choose_card(access, request.POST.get("card", ""))
            elif action == "card_delete":
                services.delete_card(access, request.POST.get("card", ""))
            elif action == "retry":
                services.retry(access)
            elif action == "email":
                services.email_invoice(
                    access, access.get(Invoice.objects.all(), pk=request.POST.get("invoice"))
                )
            else:
                raise ServiceError("Unknown action.")
        except ServiceError as exc:
            error = str(exc)
        else:
            return redirect("billing:home")
    profile = services.profile_for(access.account)
    context = {
        "status": queries.status(access.account, clock.now()),
        "profile": profile,
        "invoices": access.restrict(Invoice.objects.all())[:100],
        "cards": services.list_cards(access) if gateway.enabled() else [],
        "stripe": gateway.enabled(),
        "publishable_key": settings.BOXVAULT_STRIPE_PUBLISHABLE_KEY or "",
        "details": [
            (f, f.replace("_", " ").replace("address", "address line ").capitalize(), getattr(profile, f))
            for f in services.DETAIL_FIELDS
        ],
        "error": error,
    }
    return render(request, "billing/home.html", context, status=400 if error else 200)


@require_POST
@requires(Operation.BILLING)
def card_setup(request: HttpRequest) -> HttpResponse:
    """The SetupIntent's client secret for the page's Stripe Elements form (JSON)."""
    _enabled()
    try:
        return JsonResponse(services.card_setup(request.access))  # type: ignore[attr-defined]
    except ServiceError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)


@requires(Operation.BILLING)
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    _enabled()
    invoice = request.access.get(Invoice.objects.all(), pk=pk)  # type: ignore[attr-defined]
    response = HttpResponse(pdf.render(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.reference}.pdf"'
    return response


@csrf_exempt  # Stripe signs the body instead; the signature is checked before anything is read
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    _enabled()
    try:
        outcome = services.handle_webhook(request.body, request.headers.get("Stripe-Signature", ""))
    except ValueError:
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    return HttpResponse(outcome, content_type="text/plain")
