"""Box connector: connect through the official SDK (`box_sdk_gen`), walk users' trees, back them up.

Never imports Django; the portal calls :func:`boxvault.box.backup.run_backup` with its own catalog,
token storage and progress callback.
"""
