from django.urls import path

from boxvault.activity import views

app_name = "activity"
urlpatterns = [
    path("activity/", views.activity_list, name="list"),
    path("activity/export.csv", views.activity_csv, name="csv"),
]
