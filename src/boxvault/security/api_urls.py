"""Included by boxvault.api.urls under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from boxvault.security import api

router = SimpleRouter()
router.register("security/ip-rules", api.IpRuleViewSet, basename="ip-rule")

urlpatterns = [
    path("security/policy/", api.PolicyView.as_view(), name="security-policy"),
    path("security/saml/", api.SamlView.as_view(), name="security-saml"),
    path("", include(router.urls)),
]
