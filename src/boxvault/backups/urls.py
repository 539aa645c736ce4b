from django.urls import path

from boxvault.backups import views

app_name = "backups"
urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/new/", views.new_task, name="new"),
    path("tasks/oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("tasks/<int:pk>/", views.task_settings, name="settings"),
    path("tasks/<int:pk>/connect/", views.reconnect, name="reconnect"),
    path("tasks/<int:pk>/delete/", views.delete_task, name="delete"),
    path("tasks/<int:pk>/users/", views.task_users, name="users"),
    path("tasks/<int:pk>/users/refresh/", views.refresh_users, name="refresh_users"),
]
