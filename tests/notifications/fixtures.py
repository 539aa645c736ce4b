"""Fixtures for the notification tests: a member allowed to manage notifications, an API client."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def notifier(admin: Any) -> Any:
    """A custom member of Acme who may manage notifications (and nothing about backups)."""
    from boxvault.accounts.access import for_user
    from boxvault.accounts.services import add_member

    return add_member(
        for_user(admin.user),
        email="nora@a.example",
        password="Correct-Horse-Battery-9",
        operations=["manage_notifications"],
        services=["box"],
    )


def call(client: Any, method: str, url: str, body: Any = None) -> Any:
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, body if body is not None else {}, content_type="application/json")


class Inbox:
    """An aiosmtpd handler keeping every message it receives (parsed), and able to refuse on demand."""

    def __init__(self) -> None:
        import threading

        self.messages: list[Any] = []
        self.refuse = False
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        import email
        from email import policy

        if self.refuse:
            return "451 4.3.0 try again later"
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def take(self) -> list[Any]:
        with self._lock:
            found, self.messages = self.messages, []
        return found


@pytest.fixture
def smtp(settings: Any) -> Any:
    """A real SMTP server on loopback, and the portal's e-mail pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 10
    settings.BOXVAULT_BASE_URL = "http://portal.test"
    try:
        yield inbox
    finally:
        controller.stop()


def parts(message: Any) -> tuple[str, str, dict[str, str]]:
    """(text, html, {attachment filename: content}) of a parsed message."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    files = {a.get_filename(): a.get_content() for a in message.iter_attachments()}
    files = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in files.items()}
    return text, html, files


def finish_job(
    account: Any,
    task: Any,
    user: Any,
    status: str,
    when: Any,
    *,
    result: dict[str, Any] | None = None,
    message: str = "",
) -> Any:
    """A backup job through its real life cycle (enqueue, claim, finish) at `when` on the portal clock."""
    from datetime import timedelta

    from boxvault.core import clock
    from boxvault.jobs import services as jobs

    with clock.frozen_at(when - timedelta(minutes=3)):
        job = jobs.enqueue(
            account=account,
            kind="backup",
            task=task,
            box_user_id=user.box_user_id,
            box_user_login=user.login,
            params={"task_user": user.pk},
        )
        jobs.claim(job.pk, "test-worker")
    with clock.frozen_at(when):
        return jobs.finish(job.pk, "test-worker", status, result=result or {}, message=message)


class FakeTask:
    """What `jobs.enqueue` reads of a task (its id and name), for jobs that need no real task."""

    def __init__(self, pk: int, name: str) -> None:
        self.pk = pk
        self.name = name
