"""Accounts (tenants), their members, roles and operations."""
