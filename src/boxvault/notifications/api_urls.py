"""Included by boxvault.api.urls under /api/v1/."""

from django.urls import path

from boxvault.notifications import api

urlpatterns = [
    path("notifications/settings/", api.SettingsView.as_view(), name="notification_settings"),
    path("notifications/recipients/", api.RecipientListView.as_view(), name="notification_recipients"),
    path(
        "notifications/recipients/<int:pk>/",
        api.RecipientDetailView.as_view(),
        name="notification_recipient",
    ),
]
