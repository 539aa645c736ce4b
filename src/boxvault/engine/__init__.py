"""restic-compatible repository engine (format v2); never imports Django."""
