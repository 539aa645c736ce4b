"""Included by boxvault.api.urls under /api/v1/."""

from rest_framework.routers import SimpleRouter

from boxvault.jobs.api import JobViewSet

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
