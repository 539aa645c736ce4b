"""The Django project: settings, URLs, WSGI/ASGI entry points, task queue and the operator CLI."""
