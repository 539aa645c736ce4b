from backups.fixtures import *  # noqa: F403 - KEK, data dir, queue capture, make_task
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
from recovery.fixtures import sandbox  # noqa: F401 - the recovery tests' sandbox (a known tree per user)
from search.fixtures import *  # noqa: F403 - a small catalog with known versions
