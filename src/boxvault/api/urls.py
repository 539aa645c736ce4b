from django.urls import include, path
from rest_framework.routers import DefaultRouter

from boxvault.activity.api import ActivityListView
from boxvault.api import views
from boxvault.backups.api import TaskViewSet
from boxvault.jobs.api import JobViewSet

router = DefaultRouter()
router.register("members", views.MemberViewSet, basename="member")
router.register("tasks", TaskViewSet, basename="task")
router.register("jobs", JobViewSet, basename="job")

app_name = "api"
urlpatterns = [
    path("account/", views.AccountView.as_view(), name="account"),
    path("me/", views.MeView.as_view(), name="me"),
    path("audit/", views.AuditListView.as_view(), name="audit"),
    path("activity/", ActivityListView.as_view(), name="activity"),
    path("", include("boxvault.recovery.api_urls")),
    path("", include("boxvault.search.api_urls")),
    path("", include(router.urls)),
]
