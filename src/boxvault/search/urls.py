from django.urls import path

from boxvault.search import views

app_name = "search"
urlpatterns = [
    path("recovery/tasks/<int:task_id>/users/<str:box_user_id>/search/", views.items, name="items"),
    path("recovery/search/select/", views.select, name="select"),
]
