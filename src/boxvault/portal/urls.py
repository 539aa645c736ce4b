from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from boxvault.api import pages as api_pages
from boxvault.portal import views

urlpatterns = [
    path("home/", views.home),
    path("", include("boxvault.backups.urls")),  # the homepage lists backup tasks (before portal's "")
    path("", include("boxvault.portal.shell_urls")),
    path("", include("boxvault.accounts.urls")),
    path("", include("boxvault.security.urls")),
    path("", include("boxvault.jobs.urls")),
    path("", include("boxvault.activity.urls")),
    path("", include("boxvault.recovery.urls")),
    path("", include("boxvault.search.urls")),
    path("", include("boxvault.notifications.urls")),
    path("", include("boxvault.billing.urls")),
    path("settings/tokens/", api_pages.tokens, name="api_tokens"),
    path("settings/tokens/<int:pk>/revoke/", api_pages.revoke, name="api_token_revoke"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("boxvault.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's start-up script as a file: no inline script (Content-Security-Policy)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api_redoc"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]

handler400 = "boxvault.core.errorpages.bad_request"
handler403 = "boxvault.core.errorpages.forbidden"
handler404 = "boxvault.core.errorpages.not_found"
handler500 = "boxvault.core.errorpages.server_error"
