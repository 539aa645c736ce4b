"""`/api/v1/`: the account's own resources here; every other app owns its `api_urls.py`, included by name (no
import), so the API layer depends on no app and no app on it."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from boxvault.api import views

router = DefaultRouter()
router.register("members", views.MemberViewSet, basename="member")

app_name = "api"
urlpatterns = [
    path("account/", views.AccountView.as_view(), name="account"),
    path("me/", views.MeView.as_view(), name="me"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    path("", include("boxvault.activity.api_urls")),
    path("", include("boxvault.recovery.api_urls")),
    path("", include("boxvault.search.api_urls")),
    path("", include("boxvault.backups.api_urls")),
    path("", include("boxvault.jobs.api_urls")),
    path("", include("boxvault.notifications.api_urls")),
    path("", include("boxvault.billing.api_urls")),
    path("", include("boxvault.security.api_urls")),
    path("", include(router.urls)),
]
