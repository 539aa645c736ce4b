from backups.fixtures import *  # noqa: F403 - backup-task fixtures
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
