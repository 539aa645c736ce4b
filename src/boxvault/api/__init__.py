"""REST API v1 and the per-user API tokens that authenticate it."""
