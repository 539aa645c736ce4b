"""The folder picker of a restore: one page of the destination user's Box folders, read live from Box.

Shared by the restore dialog (an htmx fragment) and the API. Box is asked outside any database
transaction, with the short limits of a request a person waits for; its errors become one sentence.
"""

from __future__ import annotations

import requests
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError
from django.core.exceptions import PermissionDenied
from django.http import Http404

from boxvault.accounts.access import Access, get_for
from boxvault.backups.connection import describe, open_connection
from boxvault.backups.crypto import SecretError
from boxvault.backups.models import Task, TaskUser
from boxvault.backups.services import INTERACTIVE
from boxvault.box.connect import NotBox
from boxvault.box.folders import FolderPage, list_subfolders
from boxvault.core.errors import ServiceError
from boxvault.core.operations import Operation

MAX_OFFSET = 10_000  # Box refuses offset paging beyond this (it wants markers there)


def box_folders(access: Access, task_id: int, box_user_id: str, parent: str, offset: str | int) -> FolderPage:
    """The subfolders of `parent` in `box_user_id`'s Box, for a member who may restore into this task."""
    if not access.can(Operation.RESTORE):
        raise PermissionDenied("your role does not allow restoring")
    task = get_for(access, Task.objects.all(), pk=task_id)  # another tenant's or service's task: 404
    parent = (parent or "0").strip()
    if not parent.isdigit() or len(parent) > 20:
        raise ServiceError("parent must be a Box folder id (0 = All Files)")
    try:
        start = int(offset or 0)
    except (TypeError, ValueError):
        raise ServiceError("offset must be a whole number") from None
    if not 0 <= start <= MAX_OFFSET:
        raise ServiceError(f"offset must be between 0 and {MAX_OFFSET}")
    user = TaskUser.objects.filter(task=task, box_user_id=box_user_id).first()
    if user is None:
        raise Http404("no such user in this task")
    if user.status == TaskUser.Status.ARCHIVED:
        raise ServiceError("this user was deleted in Box (Archived); choose another user")
    try:
        client = open_connection(task, INTERACTIVE).as_user(box_user_id)
        return list_subfolders(client, parent, start)
    except BoxAPIError as exc:
        if exc.response_info.status_code == 404:
            raise ServiceError("That folder is not in this user's Box, or they cannot see it.") from None
        raise ServiceError(f"Box could not list the folder. {describe(exc)}") from None
    except (
        BoxSDKError,
        NotBox,
        SecretError,
        requests.RequestException,
        OSError,
        ValueError,
        KeyError,
    ) as exc:
        # unreachable, refused by the egress guard, a revoked grant, sealed credentials gone: one sentence
        raise ServiceError(f"Box could not list the folder. {describe(exc)}") from None
