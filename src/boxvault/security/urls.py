from django.urls import path

from boxvault.security import views

app_name = "security"
urlpatterns = [
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
]
