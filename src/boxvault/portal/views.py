from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from boxvault.core.access import requires
from boxvault.core.operations import Operation

log = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    return _home(request)


@requires()
def _home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {"account": request.access.account})  # type: ignore[attr-defined]


@requires(Operation.VIEW_SUPPORT)
def support(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/support.html", {"channels": settings.BOXVAULT_SUPPORT})


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


_migrated = False  # once every migration is applied it stays so for this process's code


@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers and has no unapplied migrations."""
    global _migrated
    from django.db.migrations.executor import MigrationExecutor

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if not _migrated:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if pending:
                return JsonResponse({"status": "unavailable", "migrations": len(pending)}, status=503)
            _migrated = True
    except Exception:  # any database failure means "not ready", never a 500
        log.exception("readiness check failed")
        return JsonResponse({"status": "unavailable", "database": "error"}, status=503)
    return JsonResponse({"status": "ok"})
