"""The operations a custom member may be granted (the user guide's list) and the services they may act on.

Stored as their string values in `Member.operations`; adding one is adding a line here (no migration).
"""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    VIEW_SETTINGS = "view_settings"
    BILLING = "billing"
    VIEW_SUPPORT = "view_support"
    VIEW_ACTIVITY = "view_activity"
    ALL_TICKETS = "all_tickets"
    MANAGE_NOTIFICATIONS = "manage_notifications"
    VIEW_BACKUPS = "view_backups"
    ACTIVATE_TASKS = "activate_tasks"
    MODIFY_TASKS = "modify_tasks"
    DELETE_TASKS = "delete_tasks"
    PAUSE_TASKS = "pause_tasks"
    EXECUTE_TASKS = "execute_tasks"
    CANCEL_TASKS = "cancel_tasks"
    VIEW_TASKS = "view_tasks"
    PREVIEW_DATA = "preview_data"
    RESTORE = "restore"
    EXPORT = "export"
    DELETE_ITEMS = "delete_items"
    BILLING_NOTIFICATIONS = "billing_notifications"
    # Only administrators: never offered as a checkbox.
    MANAGE_ACCOUNT = "manage_account"
    MANAGE_USERS = "manage_users"


LABELS: dict[Operation, str] = {
    Operation.VIEW_SETTINGS: "View account settings",
    Operation.BILLING: "View billing and manage payment details",
    Operation.VIEW_SUPPORT: "View support",
    Operation.VIEW_ACTIVITY: "View account activity",
    Operation.ALL_TICKETS: "Show all support tickets",
    Operation.MANAGE_NOTIFICATIONS: "Manage notifications",
    Operation.VIEW_BACKUPS: "View backups",
    Operation.ACTIVATE_TASKS: "Activate new backup tasks",
    Operation.MODIFY_TASKS: "Modify backup tasks",
    Operation.DELETE_TASKS: "Delete backup tasks",
    Operation.PAUSE_TASKS: "Pause backup tasks",
    Operation.EXECUTE_TASKS: "Execute backup tasks",
    Operation.CANCEL_TASKS: "Cancel backup tasks",
    Operation.VIEW_TASKS: "View backup tasks",
    Operation.PREVIEW_DATA: "Preview backed-up data",
    Operation.RESTORE: "Restore",
    Operation.EXPORT: "Export",
    Operation.DELETE_ITEMS: "Delete backed-up items (GDPR right to erasure)",
    Operation.BILLING_NOTIFICATIONS: "View billing notification messages",
}
GRANTABLE: list[Operation] = list(LABELS)
ADMIN_ONLY = frozenset({Operation.MANAGE_ACCOUNT, Operation.MANAGE_USERS})

# Services a member may act on; the list grows as connectors are added.
SERVICES: dict[str, str] = {"box": "Box"}
