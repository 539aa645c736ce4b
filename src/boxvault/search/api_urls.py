"""Included by boxvault.api.urls under /api/v1/ (before the task router)."""

from django.urls import path

from boxvault.search import api

urlpatterns = [path("tasks/<int:task_id>/search/", api.SearchView.as_view(), name="task-search")]
