"""Included by boxvault.api.urls under /api/v1/."""

from rest_framework.routers import SimpleRouter

from boxvault.backups.api import TaskViewSet

router = SimpleRouter()
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = router.urls
