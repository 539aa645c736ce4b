"""HTTP routes of the sandbox, one module per Box resource."""
