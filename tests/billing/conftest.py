from backups.fixtures import *  # noqa: F403 - KEK, data dir, queue capture, make_task
from billing.fixtures import *  # noqa: F403 - localstripe, billing settings, job rows
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
