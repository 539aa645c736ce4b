"""Zip entry names that stay inside the folder the zip is extracted into, whatever the names in the snapshot.

Names come from Box and, through the repository, from storage a tenant may control: a tree could hold "..",
an absolute path, a backslash or a Windows drive. Extractors differ in what they guard against, so every entry
is made harmless here: only relative "/"-separated components, none of them "", "." or "..", no drive, no
control characters.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _component(part: str) -> str:
    part = _CONTROL.sub("_", part)
    if part in (".", ".."):
        return part.replace(".", "_")  # keeps the entry visible without climbing out
    return part


def entry_name(rel: str, *, directory: bool = False) -> str:
    """A safe zip entry for the path `rel` (relative to the export's root); "_" when nothing is left."""
    parts = [_component(p) for p in rel.replace("\\", "/").split("/") if p]
    if parts and re.match(r"[A-Za-z]:", parts[0]):
        parts[0] = parts[0][0] + "_" + parts[0][2:]  # "C:..." is a drive on Windows
    name = "/".join(parts) or "_"
    return name + "/" if directory else name
