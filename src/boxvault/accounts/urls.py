from django.urls import path

from boxvault.accounts import views

app_name = "accounts"
urlpatterns = [
    path("settings/", views.account_settings, name="settings"),
    path("settings/remove/", views.removal, name="removal"),
    path("settings/reactivate/", views.reactivate, name="reactivate"),
    path("users/", views.members, name="members"),
    path("users/add/", views.member_add, name="member_add"),
    path("users/<int:pk>/", views.member_edit, name="member_edit"),
    path("users/<int:pk>/remove/", views.member_remove, name="member_remove"),
]
