from django.urls import path

from boxvault.recovery import erasure_views, views
from boxvault.search import views as search_views

app_name = "recovery"
urlpatterns = [
    path("recovery/", views.home, name="home"),
    path("recovery/tasks/<int:task_id>/", views.task_users, name="users"),
    path("recovery/tasks/<int:task_id>/users/<str:box_user_id>/", views.user_recovery, name="user"),
    path("recovery/tasks/<int:task_id>/box-folders/", views.box_folder_picker, name="box-folders"),
    path("recovery/snapshots/<str:ref>/", views.browse, name="browse"),
    path("recovery/snapshots/<str:ref>/act/", views.act, name="act"),
    path("recovery/snapshots/<str:ref>/versions/", views.file_versions, name="versions"),
    path("recovery/download/<str:token>/", views.download, name="download"),
    path("recovery/snapshots/<str:ref>/erase/", erasure_views.erase, name="erase"),
    path("recovery/erasures/", erasure_views.erasures, name="erasures"),
    path("recovery/erasures/<int:pk>/", erasure_views.erasure, name="erasure"),
    # the "Via item search" tab's fragment, served by boxvault.search (same view as search:items)
    path("recovery/tasks/<int:task_id>/users/<str:box_user_id>/search/", search_views.items, name="search"),
]
