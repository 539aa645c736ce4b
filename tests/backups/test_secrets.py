"""Envelope encryption of task secrets: nothing readable in the database, a wrong KEK said plainly."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest

from boxvault.backups import crypto


def test_seal_round_trip_and_binding() -> None:
    kek = crypto.parse_kek(crypto.generate_kek())
    sealed_dek, fp = crypto.new_data_key(kek, "task-a")
    dek = crypto.open_data_key(kek, sealed_dek, "task-a", fp)
    sealed = crypto.seal(dek, "hunter2-secret", owner="task-a", field="credentials")
    assert "hunter2" not in sealed
    assert crypto.unseal(dek, sealed, owner="task-a", field="credentials") == "hunter2-secret"
    with pytest.raises(crypto.SecretError):
        crypto.unseal(dek, sealed, owner="task-a", field="tokens")  # copied into another column
    with pytest.raises(crypto.SecretError):
        crypto.open_data_key(kek, sealed_dek, "task-b", fp)  # copied into another task
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.SecretError):
        crypto.unseal(dek, tampered, owner="task-a", field="credentials")


def test_wrong_kek_is_a_clear_error() -> None:
    right, wrong = crypto.parse_kek(crypto.generate_kek()), crypto.parse_kek(crypto.generate_kek())
    sealed_dek, fp = crypto.new_data_key(right, "t")
    with pytest.raises(crypto.SecretError, match="key-encryption key .* is not the one"):
        crypto.open_data_key(wrong, sealed_dek, "t", fp)


def test_passphrase_kek_and_generated_file(tmp_path: Path) -> None:
    assert len(crypto.parse_kek("ci-only-kek")) == 32
    assert crypto.parse_kek("ci-only-kek") == crypto.parse_kek("ci-only-kek")
    assert crypto.parse_kek("ci-only-kek") != crypto.parse_kek("ci-only-kek2")
    with pytest.raises(crypto.SecretError):
        crypto.parse_kek("   ")
    first = crypto.load_kek(None, tmp_path)
    path = crypto.kek_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.load_kek(None, tmp_path) == first  # reused, not regenerated


def test_escrow_password_depends_on_kek_and_task() -> None:
    a, b = crypto.parse_kek("one"), crypto.parse_kek("two")
    assert crypto.escrow_password(a, "u1") == crypto.escrow_password(a, "u1")
    assert (
        len(
            {
                crypto.escrow_password(a, "u1"),
                crypto.escrow_password(a, "u2"),
                crypto.escrow_password(b, "u1"),
            }
        )
        == 3
    )


@pytest.mark.django_db
def test_database_dump_holds_no_plaintext_secret(make_task: Any, settings: Any) -> None:
    from django.core.management import call_command

    from boxvault.backups import repository, vault
    from boxvault.backups.models import Task

    task = make_task()
    vault.put_json(task, "tokens", {"access_token": "tok-plain-123", "refresh_token": "ref-plain-456"})
    task.save()
    password = repository.password(task)
    out = io.StringIO()
    call_command("dumpdata", "backups", stdout=out)
    dump = out.getvalue()
    assert str(task.uuid) in dump  # the dump is of the right rows
    for secret in ("s3cr3t-ccg", "tok-plain-123", "ref-plain-456", password):
        assert secret not in dump

    fresh = Task.objects.get(pk=task.pk)
    assert vault.get_json(fresh, "credentials")["client_secret"] == "s3cr3t-ccg"
    settings.BOXVAULT_KEK = "a different key"
    with pytest.raises(vault.SecretError, match="BOXVAULT_KEK"):
        vault.get_json(fresh, "credentials")


def test_deploy_check_wants_a_configured_kek(settings: Any) -> None:
    from boxvault.backups.checks import kek_configured

    settings.BOXVAULT_KEK = None
    assert [m.id for m in kek_configured(None)] == ["boxvault.W101"]
    settings.BOXVAULT_KEK = "configured"
    assert kek_configured(None) == []
