"""The settings page where a member creates and revokes their own API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from boxvault.api.tokens import TokenError, create_token, revoke_token
from boxvault.core.access import requires


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name")


@require_http_methods(["GET", "POST"])
@requires()
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = create_token(request.user, form.cleaned_data["name"], request=request)
        except TokenError as exc:
            form.add_error("name", str(exc))
        else:
            form = TokenForm()
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "new_key": new_key,
            "tokens": request.user.api_tokens.all(),  # type: ignore[union-attr]
        },
    )


@require_POST
@requires()
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if revoke_token(request.user, pk, request=request):
        messages.success(request, "Token revoked.")
    else:
        messages.error(request, "No such token.")
    return redirect("api_tokens")
