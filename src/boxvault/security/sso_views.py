""" "Sign in with SSO": from an e-mail address or an account's sign-in name to that account's IdP."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from boxvault.security.saml import find_for_sign_in


@require_http_methods(["GET", "POST"])
@login_not_required
def sso(request: HttpRequest) -> HttpResponse:
    identifier = (request.POST.get("identifier") or "").strip()[:254] if request.method == "POST" else ""
    if request.method == "POST":
        config = find_for_sign_in(identifier)
        if config is not None:
            return redirect(reverse("saml_login", args=[config.slug]) + "?process=login")
        # the same words whether or not the address is known: the page reveals no members
        error = "No single sign-on is set up for this address or name. Sign in with your password instead."
        return render(request, "security/sso.html", {"identifier": identifier, "error": error}, status=400)
    return render(request, "security/sso.html", {"identifier": identifier})
