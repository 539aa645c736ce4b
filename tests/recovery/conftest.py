from backups.fixtures import *  # noqa: F403 - KEK, data dir, queue capture, make_task
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
from recovery.fixtures import *  # noqa: F403 - a sandbox with content of our own, backed-up users
