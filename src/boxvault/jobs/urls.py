from django.urls import path

from boxvault.jobs import views

app_name = "jobs"
urlpatterns = [
    path("jobs/", views.job_list, name="list"),
    path("jobs/export.csv", views.job_csv, name="csv"),
    path("jobs/<int:pk>/card/", views.job_card, name="card"),
    path("jobs/<int:pk>/log/", views.job_log, name="log"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="cancel"),
]
