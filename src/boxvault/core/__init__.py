"""The ground floor every app may import: clock, environment readers, errors, egress policy, CSV export.

It imports no app of boxvault (a test walks the imports to keep it so):
any app can build on it without a cycle.
"""
