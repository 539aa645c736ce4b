"""Billing. For now only the trial every new account starts with."""
