from jobs.fixtures import *  # noqa: F403
from portal.fixtures import *  # noqa: F403 - shared portal fixtures and the `db` marker hook
