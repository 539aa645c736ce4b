"""The root of the test tree: plugins every area shares (each area's conftest adds its own fixtures)."""

import logging

pytest_plugins = ["support.browser", "support.sandbox_pool"]

# aiosmtpd logs every SMTP connection at INFO from its own thread; a connection that ends while pytest tears
# a test down then wrote "--- Logging error ---" tracebacks into the output (its stream already closed)
logging.getLogger("mail.log").setLevel(logging.WARNING)
