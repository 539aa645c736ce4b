"""Box API sandbox: a stateful emulator of the Box Platform API (see docs/sandbox.md)."""
