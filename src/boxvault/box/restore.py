"""Putting backed-up items back into Box (no Django): the library behind the portal's "restore" job.

The input is what the engine's walk yields for a selection of a user's snapshot: `(path, node)` pairs,
parents before children, paths absolute (`/<login>/A/B/c.txt`). Each item goes to the same relative path
below a destination folder, so a restore to folder 0 of the same user puts things back where they were.

Methods (see docs/recovery.md):
- `non_destructive`: a new folder ("Restored YYYY-MM-DD HH:MM") in the destination receives everything;
  nothing that exists is touched.
- `replace`: folders are merged; an existing file with another content gets a new version holding the
  backed-up content (Box keeps the current one in its history); identical content is left as it is.
- `bypass`: existing items are left alone; only missing ones come back.

Content timestamps (`content_created_at`, `content_modified_at`) are sent with every upload of a small
file; Box's chunked-upload API (files of `chunk_threshold` bytes and more) does not take them, so big
files get Box's upload time instead. Retries of 429/5xx/409 operation_blocked_temporary and the rate
limiter live in the connection's network client (`boxvault.box.http`); a 409 item_name_in_use is resolved
here from its `context_info.conflicts`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime

from box_sdk_gen import BoxClient
from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError
from box_sdk_gen.managers.file_versions import PromoteFileVersionType
from box_sdk_gen.managers.folders import CreateFolderParent
from box_sdk_gen.managers.uploads import (
    UploadFileAttributes,
    UploadFileAttributesParentField,
    UploadFileVersionAttributes,
)

from boxvault.box.api import post_json
from boxvault.box.reapply import Reapplier
from boxvault.box.restore_base import (
    CHUNK_THRESHOLD,
    VERSIONS_DIR,
    ListedEntry,
    Mode,
    NameTaken,
    Options,
    Outcome,
    Report,
    RestoreError,
    conflict_id,
    describe,
    node_kind,
    xattr_text,
    xattr_time,
)
from boxvault.box.trash import TRASH_DIR, original_rel, trash_item
from boxvault.engine.errors import EngineError
from boxvault.engine.tree import Node

# what the portal and the CLI import from here
__all__ = [
    "CHUNK_THRESHOLD",
    "VERSIONS_DIR",
    "BoxRestorer",
    "Mode",
    "Options",
    "Outcome",
    "Report",
    "RestoreError",
    "describe",
    "node_kind",
    "xattr_text",
]


class BoxRestorer:
    """Restores into one user's Box through `client` (already acting as that user)."""

    def __init__(
        self,
        client: BoxClient,
        open_content: Callable[[Node], io.RawIOBase],
        options: Options,
        *,
        on_item: Callable[[Outcome], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.open_content = open_content
        self.options = options
        self.on_item = on_item or (lambda outcome: None)
        self.cancelled = cancelled or (lambda: False)
        self._folders: dict[str, str] = {}  # relative folder path -> Box folder id
        self._listings: dict[str, dict[str, ListedEntry]] = {}  # Box folder id -> name -> entry
        self.reapply = Reapplier(client, options)
        # ".box-trash/<name>" -> the path it was trashed from
        self._trash_places: dict[str, str] = dict(options.trash_places)
        self._untrashed: set[str] = set()  # ".box-trash/<name>" Box restored from its trash

    # --- listing and folders
    def _listing(self, folder_id: str) -> dict[str, ListedEntry]:
        cached = self._listings.get(folder_id)
        if cached is not None:
            return cached
        entries: dict[str, ListedEntry] = {}
        marker: str | None = None
        while True:
            page = self.client.folders.get_folder_items(
                folder_id, fields=["name", "type", "sha1"], usemarker=True, marker=marker, limit=1000
            )
            for item in page.entries or []:
                entries[str(item.name)] = ListedEntry(
                    str(item.type.value), str(item.id), str(getattr(item, "sha_1", "") or "")
                )
            marker = getattr(page, "next_marker", None)
            if not marker:
                break
        self._listings[folder_id] = entries
        return entries

    def _ensure_folder(self, parent_id: str, name: str) -> tuple[str, bool]:
        """(folder id, created) of `name` inside `parent_id`, creating it when missing."""
        existing = self._listing(parent_id).get(name)
        if existing is not None:
            if existing.kind != "folder":
                raise RestoreError(f"a {existing.kind} named {name!r} is in the way")
            return existing.id, False
        try:
            folder = self.client.folders.create_folder(name, CreateFolderParent(id=parent_id))
            folder_id, created = str(folder.id), True
        except BoxAPIError as exc:
            conflict = conflict_id(exc) if exc.response_info.status_code == 409 else None
            if conflict is None or conflict[0] != "folder":
                raise
            folder_id, created = conflict[1], False  # another restore (or a person) made it meanwhile
        self._listings[parent_id][name] = ListedEntry("folder", folder_id)
        if created:
            self._listings[folder_id] = {}  # a new folder is empty: no listing request needed
        return folder_id, created

    def _folder_for(self, rel_dir: str) -> str:
        if rel_dir in self._folders:
            return self._folders[rel_dir]
        parent_rel, _, name = rel_dir.rpartition("/")
        folder_id, _ = self._ensure_folder(self._folder_for(parent_rel), name)
        self._folders[rel_dir] = folder_id
        return folder_id

    def _root(self) -> str:
        if self.options.mode is not Mode.NON_DESTRUCTIVE:
            return self.options.folder_id
        name = self.options.restored_folder_name or datetime.now().strftime("Restored %Y-%m-%d %H:%M")
        base, n = name, 1
        # Never merge into an existing folder: a second restore in the same minute gets its own folder.
        while name in self._listing(self.options.folder_id):
            n += 1
            name = f"{base} ({n})"
        folder_id, _ = self._ensure_folder(self.options.folder_id, name)
        return folder_id

    # --- the run
    def run(self, items: Iterable[tuple[str, Node]], base: str) -> Report:
        """Restore every `(path, node)` below `base` (the user's root, e.g. `/jane@corp.com`)."""
        report = Report()
        try:
            root_id = self._root()
        except BoxSDKError as exc:
            # nothing can be restored: say where it stopped (e.g. a user whose Box takes no uploads)
            raise RestoreError(f"Box refused the destination folder: {describe(exc)}") from exc
        report.root_folder_id = root_id
        report.links = self.reapply.links
        report.not_reapplied = self.reapply.not_reapplied
        self._folders[""] = root_id
        prefix = base.rstrip("/") + "/"
        for path, node in items:
            if self.cancelled():
                report.cancelled = True
                break
            if not path.startswith(prefix):
                continue
            rel = path[len(prefix) :]
            kind = node_kind(node)
            if rel == VERSIONS_DIR or rel.startswith(VERSIONS_DIR + "/") or kind == "file_version":
                continue  # older versions are browsed and exported, never written back as live items
            if rel == TRASH_DIR or rel.startswith(TRASH_DIR + "/"):
                outcome_ = self._from_trash(rel, node, kind) if self.options.trash else None
                if outcome_ is None:
                    continue
                outcome = outcome_
            else:
                outcome = self._restore_one(rel, node, kind)
            report.outcomes.append(outcome)
            report.items += 1
            if outcome.action == "failed":
                report.failed += 1
            elif outcome.action == "skipped":
                report.skipped += 1
            elif outcome.action in ("created", "new_version"):
                report.bytes += outcome.size
            self.on_item(outcome)
        return report

    def _from_trash(self, rel: str, node: Node, kind: str) -> Outcome | None:
        """An item of `.box-trash` (or something it held) back where it was trashed from; None: nothing to
        do (the trash folder itself, or an item Box's restore-from-trash already brought back)."""
        found = trash_item(rel, TRASH_DIR)
        if found is None:
            return None
        top = f"{TRASH_DIR}/{found[0]}"
        if top in self._untrashed:
            return None  # back with the folder Box restored
        if not found[1]:
            self._trash_places[top] = original_rel(node, "") or found[0]
            if self.options.untrash:
                done = self._untrash(top, node, kind)
                if done is not None:
                    return done
        base = self._trash_places.get(top)
        if base is None:
            return None  # its trashed item was not restored (not selected)
        return self._restore_one(base + rel[len(top) :], node, kind)

    def _untrash(self, rel: str, node: Node, kind: str) -> Outcome | None:
        """Box's restore-from-trash for the item; None when Box cannot (purged, a name taken): upload."""
        box_id = xattr_text(node, "box.id") or ""
        endpoint = {"file": "files", "folder": "folders", "web_link": "web_links"}.get(kind)
        if not box_id or endpoint is None:
            return None
        try:
            post_json(self.client, f"/2.0/{endpoint}/{box_id}", {})
        except BoxAPIError as exc:
            if exc.response_info.status_code in (400, 403, 404, 409):
                return None  # no longer in Box's trash, or its place is taken: the stored copy goes back
            raise
        self._untrashed.add(rel)
        self._listings.clear()  # what Box put back is in folders listed before
        return Outcome(
            path=self._trash_places[rel], kind=kind, action="untrashed", box_id=box_id, size=node.size
        )

    def _restore_one(self, rel: str, node: Node, kind: str) -> Outcome:
        parent_rel, _, name = rel.rpartition("/")
        outcome = Outcome(path=rel, kind=kind, action="failed", size=node.size if node.type == "file" else 0)
        try:
            parent_id = self._folder_for(parent_rel)
            if node.type == "dir":
                folder_id, created = self._ensure_folder(parent_id, name)
                self._folders[rel] = folder_id
                outcome.box_id = folder_id
                outcome.action = "created" if created else "merged"
                if created:
                    self.reapply.apply(node, "folder", folder_id, rel)
            elif kind == "web_link":
                self._restore_web_link(parent_id, name, node, outcome)
            else:
                self._restore_file(parent_id, name, node, outcome)
        except (BoxSDKError, RestoreError, EngineError, OSError, ValueError) as exc:
            # EngineError: the stored content is damaged or missing; this item fails, the others go on
            outcome.action = "failed"
            outcome.error = describe(exc)
        return outcome

    def _restore_file(self, parent_id: str, name: str, node: Node, outcome: Outcome) -> None:
        existing = self._listing(parent_id).get(name)
        sha1 = xattr_text(node, "box.sha1") or ""
        if existing is not None:
            if existing.kind != "file":
                raise RestoreError(f"a {existing.kind} named {name!r} is in the way")
            outcome.box_id = existing.id
            if self.options.mode is Mode.BYPASS:
                outcome.action = "skipped"
                return
            if sha1 and existing.sha1 == sha1:
                outcome.action = "unchanged"
                return
            self._upload_version(existing.id, name, node)
            outcome.action = "new_version"
            return
        try:
            file_id = self._upload_new(parent_id, name, node)
        except NameTaken as taken:
            # Someone uploaded the same name since the listing: the file exists after all.
            self._listing(parent_id)[name] = ListedEntry("file", taken.file_id)
            outcome.box_id = taken.file_id
            if self.options.mode is Mode.BYPASS:
                outcome.action = "skipped"
                return
            self._upload_version(taken.file_id, name, node)
            outcome.action = "new_version"
            return
        self._listing(parent_id)[name] = ListedEntry("file", file_id, sha1)
        outcome.box_id = file_id
        outcome.action = "created"
        self.reapply.apply(node, "file", file_id, outcome.path)

    def _content(self, node: Node) -> io.BufferedIOBase:
        reader = self.open_content(node)
        if node.size < self.options.chunk_threshold:
            # Small files are read whole, so an upload the SDK retries starts from a full stream again.
            try:
                return io.BytesIO(reader.read())
            finally:
                reader.close()
        return io.BufferedReader(reader, 2**20)

    def _upload_new(self, parent_id: str, name: str, node: Node) -> str:
        stream = self._content(node)
        try:
            if node.size >= self.options.chunk_threshold:
                big = self.client.chunked_uploads.upload_big_file(stream, name, node.size, parent_id)
                return str(big.id)
            attributes = UploadFileAttributes(
                name,
                UploadFileAttributesParentField(id=parent_id),
                content_created_at=xattr_time(node, "box.content_created_at"),
                content_modified_at=xattr_time(node, "box.content_modified_at") or node.mtime_dt,
            )
            try:
                files = self.client.uploads.upload_file(attributes, stream)
            except BoxAPIError as exc:
                conflict = conflict_id(exc) if exc.response_info.status_code == 409 else None
                if conflict is None or conflict[0] != "file":
                    raise
                raise NameTaken(conflict[1]) from exc
            entries = files.entries or []
            if not entries:
                raise RestoreError("Box accepted the upload but returned no file")
            return str(entries[0].id)
        finally:
            stream.close()

    def _upload_version(self, file_id: str, name: str, node: Node) -> None:
        stream = self._content(node)
        try:
            if node.size >= self.options.chunk_threshold:
                self.client.chunked_uploads.upload_big_file_version(
                    file_id, stream, node.size, file_name=name
                )
                return
            attributes = UploadFileVersionAttributes(
                name, content_modified_at=xattr_time(node, "box.content_modified_at") or node.mtime_dt
            )
            self.client.uploads.upload_file_version(file_id, attributes, stream)
        finally:
            stream.close()

    def _restore_web_link(self, parent_id: str, name: str, node: Node, outcome: Outcome) -> None:
        from box_sdk_gen.managers.web_links import CreateWebLinkParent

        existing = self._listing(parent_id).get(name)
        if existing is not None:
            outcome.box_id = existing.id
            outcome.action = "skipped"  # a web link has no versions; the live one stays
            return
        reader = self.open_content(node)
        try:
            doc = json.loads(reader.read() or b"{}")
        finally:
            reader.close()
        url = xattr_text(node, "box.url") or str(doc.get("url") or "")
        if not url:
            raise RestoreError("the backed-up web link has no URL")
        link = self.client.web_links.create_web_link(
            url, CreateWebLinkParent(id=parent_id), name=name, description=doc.get("description") or None
        )
        outcome.box_id = str(link.id)
        outcome.action = "created"
        self._listing(parent_id)[name] = ListedEntry("web_link", str(link.id))

    # --- one previous version of a file
    def restore_version(self, rel: str, version: Node, *, as_copy: bool) -> Outcome:
        """Put one stored previous version (a `file_version` node) of the file at `rel` back into Box.

        As the current version: Box's promote when Box still holds that version (nothing is uploaded), an
        upload of the stored bytes as a new version otherwise; when the file itself is gone from Box, it
        comes back at its path (below the destination folder) with that content. As a copy: a new file
        "<name> (version N)" beside the live file, or at the file's path when it is gone."""
        outcome = Outcome(path=rel, kind="file_version", action="failed", size=version.size)
        self._folders.setdefault("", self.options.folder_id)
        file_id = xattr_text(version, "box.id") or ""
        version_id = xattr_text(version, "box.version_id") or ""
        parent_rel, _, current_name = rel.rpartition("/")
        name = xattr_text(version, "box.name") or current_name
        try:
            live = self._live_file(file_id)
            if as_copy:
                parent_id = live[1] if live else self._folder_for(parent_rel)
                number = xattr_text(version, "box.version_number") or version_id
                outcome.box_id = self._upload_copy(parent_id, _copy_name(name, number), version)
                outcome.action = "created"
            elif live is None:
                self._restore_file(self._folder_for(parent_rel), name, version, outcome)
            elif live[0] == (xattr_text(version, "box.sha1") or "-"):
                outcome.box_id, outcome.action = file_id, "unchanged"
            else:
                outcome.box_id = file_id
                outcome.action = self._promote_or_upload(file_id, version_id, name, version)
        except (BoxSDKError, RestoreError, EngineError, OSError, ValueError) as exc:
            outcome.action = "failed"
            outcome.error = describe(exc)
        self.on_item(outcome)
        return outcome

    def _live_file(self, file_id: str) -> tuple[str, str] | None:
        """(sha1, parent folder id) of the file while it is live in Box; None once deleted or trashed."""
        if not file_id:
            return None
        try:
            live = self.client.files.get_file_by_id(file_id, fields=["sha1", "parent", "item_status"])
        except BoxAPIError as exc:
            if exc.response_info.status_code == 404:
                return None
            raise
        status = getattr(live.item_status, "value", live.item_status)
        if (status and status != "active") or live.parent is None:
            return None
        return str(live.sha_1 or ""), str(live.parent.id)

    def _promote_or_upload(self, file_id: str, version_id: str, name: str, version: Node) -> str:
        try:
            self.client.file_versions.promote_file_version(
                file_id, id=version_id, type=PromoteFileVersionType.FILE_VERSION
            )
            return "promoted"
        except BoxAPIError as exc:
            # Box no longer holds that version (deleted, in the trash, past the enterprise's version limit):
            # the stored bytes become the current version instead.
            if exc.response_info.status_code not in (400, 404):
                raise
        self._upload_version(file_id, name, version)
        return "new_version"

    def _upload_copy(self, parent_id: str, name: str, node: Node) -> str:
        stem, dot, ext = name.rpartition(".")
        base = stem if dot and stem else name
        suffix = f".{ext}" if dot and stem else ""
        candidate, n = name, 1
        while True:
            try:
                return self._upload_new(parent_id, candidate, node)
            except NameTaken:
                n += 1
                candidate = f"{base} ({n}){suffix}"
                if n > 50:
                    raise RestoreError(f"no free name for a copy of {name!r}") from None


def _copy_name(name: str, number: str) -> str:
    """'plan.txt', '2' -> 'plan (version 2).txt'."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        return f"{stem} (version {number}).{ext}"
    return f"{name} (version {number})"
