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
    path("", include(router.urls)),
]
