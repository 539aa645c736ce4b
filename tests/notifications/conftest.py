from backups.fixtures import *  # noqa: F403 - backup-task fixtures (KEK, queue capture, sandbox)
from notifications.fixtures import *  # noqa: F403
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
