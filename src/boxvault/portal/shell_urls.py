from django.urls import path

from boxvault.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("support/", views.support, name="support"),
]
