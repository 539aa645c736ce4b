"""The root of the test tree: plugins every area shares (each area's conftest adds its own fixtures)."""

pytest_plugins = ["support.browser", "support.sandbox_pool"]
