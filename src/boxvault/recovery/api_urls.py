"""Included by boxvault.api.urls under /api/v1/."""

from django.urls import path

from boxvault.recovery import api, erasure_api

urlpatterns = [
    path(
        "tasks/<int:task_id>/users/<str:box_user_id>/snapshots/",
        api.SnapshotsView.as_view(),
        name="snapshots",
    ),
    path(
        "tasks/<int:task_id>/users/<str:box_user_id>/box-folders/",
        api.BoxFoldersView.as_view(),
        name="box-folders",
    ),
    path("snapshots/<str:ref>/tree/", api.TreeView.as_view(), name="snapshot-tree"),
    path("snapshots/<str:ref>/versions/", api.VersionsView.as_view(), name="snapshot-versions"),
    path("restores/", api.RestoresView.as_view(), name="restores"),
    path("restores/versions/", api.VersionRestoresView.as_view(), name="version-restores"),
    path("exports/", api.ExportsView.as_view(), name="exports"),
    path("erasures/", erasure_api.ErasuresView.as_view(), name="erasures"),
    path("erasures/<int:pk>/", erasure_api.ErasureView.as_view(), name="erasure"),
    path("erasures/<int:pk>/receipt/", erasure_api.ReceiptView.as_view(), name="erasure-receipt"),
]
