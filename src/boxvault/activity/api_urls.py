"""Included by boxvault.api.urls under /api/v1/."""

from django.urls import path

from boxvault.activity.api import ActivityListView

urlpatterns = [path("activity/", ActivityListView.as_view(), name="activity")]
