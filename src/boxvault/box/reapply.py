"""What a restore puts back on the items it created besides their content: shared links, collaborations
(users and groups), metadata instances (creating a deleted enterprise template again when allowed) and
comments. Each is best effort: what cannot be put back is recorded with why (`not_reapplied`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from box_sdk_gen import BoxClient
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError

from boxvault.box.api import put_json
from boxvault.box.restore_base import Options, describe, xattr_text
from boxvault.engine.tree import Node


class Reapplier:
    def __init__(self, client: BoxClient, options: Options) -> None:
        self.client = client  # acting as the destination user
        self.options = options
        self.links: list[dict[str, str]] = []  # shared links re-created (or why not)
        self.not_reapplied: list[dict[str, str]] = []
        self._templates_made: dict[tuple[str, str], str] = {}  # (scope, key) -> "" or why not

    def apply(self, node: Node, kind: str, item_id: str, path: str) -> None:
        """Everything asked for, on an item the restore created (best effort: a failure is recorded in
        `not_reapplied` for the job's log, never fatal for the item)."""
        if self.options.shared_links:
            self._share(node, kind, item_id, path)
        if self.options.collaborations:
            for collab in _json_list(node, "box.collaborations"):
                self._collaborate(kind, item_id, collab, path)
        if self.options.metadata:
            for instance in _json_list(node, "box.metadata"):
                self._apply_metadata(kind, item_id, instance, path)
        if self.options.comments and kind == "file":
            comments = _json_list(node, "box.comments")
            for comment in sorted(comments, key=lambda c: str(c.get("created_at") or "")):
                self._comment(item_id, comment, path)

    def _comment(self, file_id: str, comment: dict[str, Any], path: str) -> None:
        """Box stamps a comment with its poster and the time it is posted: the author posts it again when
        they still can; otherwise the restoring user does, with the author and the time in the text."""
        from box_sdk_gen.managers.comments import CreateCommentItem, CreateCommentItemTypeField

        message = str(comment.get("message") or "")
        if not message:
            return
        raw = comment.get("created_by")
        author: dict[str, Any] = raw if isinstance(raw, dict) else {}
        author_id = str(author.get("id") or "")
        reply = "(reply) " if comment.get("is_reply_comment") else ""
        item = CreateCommentItem(id=file_id, type=CreateCommentItemTypeField.FILE)
        if author_id and self.options.client_for is not None:
            try:
                self.options.client_for(author_id).comments.create_comment(reply + message, item)
                return
            except BoxSDKError:
                pass  # the author left, or may not see the restored file: posted on their behalf below
        who = str(author.get("name") or author.get("login") or "someone")
        when = str(comment.get("created_at") or "")[:16].replace("T", " ")
        try:
            self.client.comments.create_comment(f"{reply}[{who}, {when}] {message}", item)
        except (BoxSDKError, ValueError) as exc:
            self._not_reapplied(path, f"comment by {who}", exc)

    def _share(self, node: Node, kind: str, item_id: str, path: str) -> None:
        """The item's shared link as it was: same access, permissions and expiry; Box makes the URL."""
        try:
            doc = json.loads(xattr_text(node, "box.shared_link") or "null")
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not doc.get("url"):
            return
        record = {
            "path": path,
            "old_url": str(doc["url"]),
            "new_url": "",
            "access": str(doc.get("access") or ""),
        }
        expires = _parse_time(doc.get("unshared_at"))
        if doc.get("is_password_enabled"):
            # Box never gives a link's password out, and inventing one would put a secret in the job's results
            record["note"] = (
                "it had a password, which Box never reveals: share it again in Box with a password"
            )
        elif expires is not None and expires <= datetime.now(expires.tzinfo):
            record["note"] = f"it had expired ({doc['unshared_at']})"
        else:
            try:
                record["new_url"] = self._add_link(kind, item_id, doc, expires)
            except (BoxSDKError, ValueError) as exc:
                record["note"] = describe(exc)
        self.links.append(record)

    def _add_link(self, kind: str, item_id: str, doc: dict[str, Any], expires: datetime | None) -> str:
        """One request for files and folders alike: `PUT /{files|folders}/{id}` with the link's settings."""
        raw = doc.get("permissions")
        permissions: dict[str, Any] = raw if isinstance(raw, dict) else {}
        # Box takes can_edit on a file's link only
        wanted = ("can_download", "can_edit") if kind == "file" else ("can_download",)
        link: dict[str, Any] = {
            "access": doc.get("access") or None,
            "unshared_at": expires.isoformat() if expires is not None else None,
            "permissions": {k: permissions[k] for k in wanted if isinstance(permissions.get(k), bool)}
            or None,
        }
        answer = put_json(
            self.client,
            f"/2.0/{kind}s/{item_id}",
            {"shared_link": {k: v for k, v in link.items() if v is not None}},
            {"fields": "shared_link"},
        )
        shared = answer.get("shared_link")
        return str(shared.get("url") or "") if isinstance(shared, dict) else ""

    def _not_reapplied(self, path: str, what: str, exc: BaseException) -> None:
        reason = describe(exc)
        if isinstance(exc, BoxAPIError) and exc.response_info.status_code == 404:
            reason = "it no longer exists in Box"
        self.not_reapplied.append({"path": path, "what": what, "reason": reason})

    def _collaborate(self, kind: str, item_id: str, collab: dict[str, Any], path: str) -> None:
        from box_sdk_gen.managers.user_collaborations import (
            CreateCollaborationAccessibleBy,
            CreateCollaborationAccessibleByTypeField,
            CreateCollaborationItem,
            CreateCollaborationItemTypeField,
            CreateCollaborationRole,
        )

        who = collab.get("accessible_by") or {}
        role = str(collab.get("role") or "")
        if not who.get("id") or not role or role == "owner":
            return
        who_type = str(who.get("type") or "user")
        label = f"collaboration of {who_type} {who.get('name') or who.get('login') or who['id']} ({role})"
        try:
            self.client.user_collaborations.create_collaboration(
                CreateCollaborationItem(type=CreateCollaborationItemTypeField(kind), id=item_id),
                CreateCollaborationAccessibleBy(
                    type=CreateCollaborationAccessibleByTypeField(who.get("type", "user")), id=str(who["id"])
                ),
                CreateCollaborationRole(role),
                notify=False,
            )
        except BoxAPIError as exc:
            if exc.response_info.code == "user_already_collaborator":
                return  # the collaboration is there already (inherited from a folder above)
            self._not_reapplied(path, label, exc)  # e.g. a user or group that no longer exists
        except (BoxSDKError, ValueError) as exc:
            self._not_reapplied(path, label, exc)

    def _apply_metadata(self, kind: str, item_id: str, instance: dict[str, Any], path: str) -> None:
        scope, template = instance.get("$scope"), instance.get("$template")
        if not scope or not template:
            return
        body = {k: v for k, v in instance.items() if not k.startswith("$")}
        what = f"metadata {scope}.{template}"
        try:
            self._create_instance(kind, item_id, str(scope), str(template), body)
        except BoxAPIError as exc:
            if exc.response_info.code != "instance_tuple_not_found" or str(scope) == "global":
                self._not_reapplied(path, what, exc)
                return
            why = self._template_back(str(scope), str(template))
            if why:
                self.not_reapplied.append({"path": path, "what": what, "reason": why})
                return
            try:
                self._create_instance(kind, item_id, str(scope), str(template), body)
            except (BoxSDKError, ValueError) as again:
                self._not_reapplied(path, what, again)
        except (BoxSDKError, ValueError) as exc:
            self._not_reapplied(path, what, exc)

    def _template_back(self, scope: str, template: str) -> str:
        """'' once the deleted template exists again, else why it does not."""
        if self.options.recreate_template is None:
            return (
                "its template was deleted in Box, and the task does not create deleted templates again "
                "(a setting of the task)"
            )
        if (scope, template) not in self._templates_made:
            self._templates_made[(scope, template)] = self.options.recreate_template(scope, template) or ""
        failed = self._templates_made[(scope, template)]
        return f"its template was deleted in Box and could not be created again: {failed}" if failed else ""

    def _create_instance(
        self, kind: str, item_id: str, scope: str, template: str, body: dict[str, Any]
    ) -> None:
        if kind == "folder":
            from box_sdk_gen.managers.folder_metadata import CreateFolderMetadataByIdScope

            self.client.folder_metadata.create_folder_metadata_by_id(
                item_id, CreateFolderMetadataByIdScope(_scope_kind(scope)), template, body
            )
        else:
            from box_sdk_gen.managers.file_metadata import CreateFileMetadataByIdScope

            self.client.file_metadata.create_file_metadata_by_id(
                item_id, CreateFileMetadataByIdScope(_scope_kind(scope)), template, body
            )


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _scope_kind(scope: str) -> str:
    # Instances carry "enterprise_12345"; the create call takes "enterprise" or "global".
    return "global" if scope == "global" else "enterprise"


def _json_list(node: Node, name: str) -> list[dict[str, Any]]:
    text = xattr_text(node, name)
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if isinstance(value, dict):
        value = value.get("entries", [])
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
