from django.urls import path

from boxvault.notifications import views

app_name = "notifications"
urlpatterns = [
    path("settings/notifications/", views.settings_page, name="settings"),
    path("settings/notifications/recipients/<int:pk>/", views.recipient_edit, name="recipient"),
    path("settings/notifications/recipients/<int:pk>/remove/", views.recipient_remove, name="remove"),
    path("notifications/reports/<str:token>/", views.report_download, name="report"),
]
