from django.urls import path

from boxvault.security import settings_views, sso_views, views

app_name = "security"
urlpatterns = [
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
    path("settings/security/", settings_views.security_settings, name="settings"),
    path("settings/security/ip/<int:pk>/", settings_views.ip_rule_edit, name="ip_rule_edit"),
    path("settings/security/ip/<int:pk>/delete/", settings_views.ip_rule_delete, name="ip_rule_delete"),
    path("settings/security/saml/", settings_views.saml_settings, name="saml"),
    path("sso/", sso_views.sso, name="sso"),
]
