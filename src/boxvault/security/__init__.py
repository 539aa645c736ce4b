"""The security audit trail: who signed in, changed what, added or removed whom."""
