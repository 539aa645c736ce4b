"""`boxvault serve`: waitress in a thread, the Huey consumer (worker threads + periodic scheduler) in the main
thread, because the consumer owns signal handling: SIGINT stops gracefully, SIGTERM at once; both bring the
web server down with it."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("boxvault.serve")


def _register_tasks() -> None:
    # A consumer only runs tasks it has imported: load every app's tasks.py, as djhuey's run_huey does.
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")


def run(host: str, port: int, *, web_threads: int = 8, queue_workers: int = 2) -> None:
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from huey.contrib.djhuey import HUEY
    from waitress import create_server

    proxy: dict[str, object] = {}
    if settings.BOXVAULT_TRUSTED_PROXY:
        proxy = {
            "trusted_proxy": settings.BOXVAULT_TRUSTED_PROXY,
            "trusted_proxy_count": settings.BOXVAULT_TRUSTED_PROXY_COUNT,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        }
    # With BOXVAULT_TRUSTED_PROXIES the portal's ClientAddressMiddleware judges forwarding headers itself
    # (several proxies, CIDRs); waitress must then pass them on instead of clearing them.
    clear_headers = not settings.BOXVAULT_TRUSTED_PROXIES
    server = create_server(
        get_wsgi_application(),
        host=host,
        port=port,
        threads=web_threads,
        ident="boxvault",
        clear_untrusted_proxy_headers=clear_headers,
        **proxy,  # type: ignore[arg-type]
    )
    _register_tasks()
    stopping = threading.Event()

    def serve_http() -> None:
        try:
            server.run()
        except Exception:
            # closing the server under its running loop (the shutdown below) may raise in this thread: that is
            # the stop we asked for, not a failure to report as a traceback
            if not stopping.is_set():
                raise

    web = threading.Thread(target=serve_http, name="waitress", daemon=True)
    web.start()
    print(f"boxvault is running on http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
    consumer = HUEY.create_consumer(
        workers=queue_workers, worker_type="thread", periodic=True, check_worker_health=True
    )
    try:
        consumer.run()
    finally:
        stopping.set()
        # requests in flight finish first, while their connections are still open: closing the server
        # under a handler thread that is still writing makes waitress log a traceback for it
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        server.close()
        print("boxvault stopped.", flush=True)


def run_worker(queue_workers: int, periodic: bool) -> None:
    from huey.contrib.djhuey import HUEY

    _register_tasks()
    HUEY.create_consumer(
        workers=queue_workers, worker_type="thread", periodic=periodic, check_worker_health=True
    ).run()
