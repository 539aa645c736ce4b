"""`verify-catalog`: one contract over both catalogs (the CLI's SQLite one and the portal's Django one).

The repository comes from real backup jobs against the sandbox; each catalog starts without those snapshots
(as after restoring an older database), is repaired from the repository, then follows snapshots that
disappear from the repository and come back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backups.test_job_cost import _api, _backup_now


def _task_with_two_snapshots(client: Any, admin: Any, sandbox: Any) -> tuple[Any, str, list[str]]:
    from boxvault.backups import repository
    from boxvault.backups.models import Task
    from portal.fixtures import login

    repository.drop_held()
    login(client, admin.user)
    created = _api(
        client,
        "post",
        "/api/v1/tasks/",
        {
            "name": "Verify",
            "connection": {
                "kind": "ccg",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "enterprise_id": sandbox.enterprise_id,
                "api_url": sandbox.url,
            },
        },
    )
    users = _api(client, "get", f"/api/v1/tasks/{created['id']}/users/")["results"]
    uid = next(u["box_user_id"] for u in users if u["login"] != "admin")
    _api(
        client,
        "post",
        f"/api/v1/tasks/{created['id']}/users/actions/",
        {"action": "activate", "box_user_ids": [uid]},
    )
    ids = [_backup_now(client, created["id"], uid).result["snapshot_id"] for _ in range(2)]
    repository.drop_held()
    return Task.objects.get(pk=created["id"]), uid, ids


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["sqlite", "django"])
def test_verify_and_repair_contract(kind: str, client: Any, admin: Any, sandbox: Any, tmp_path: Path) -> None:
    from boxvault.backups import repository
    from boxvault.backups.catalog import DjangoCatalog
    from boxvault.backups.models import CatalogSnapshot
    from boxvault.box.catalog import SqliteCatalog
    from boxvault.box.verify import verify_catalog

    task, uid, ids = _task_with_two_snapshots(client, admin, sandbox)
    scope = task.enterprise_id
    portal = DjangoCatalog(task)
    expected = sorted((e.item_id, e.item_type, e.path) for e in portal.entries_at(scope, uid, ids[1]))
    assert expected
    ledger: Any
    if kind == "sqlite":
        ledger = SqliteCatalog(tmp_path / "catalog.sqlite")
    else:
        CatalogSnapshot.objects.filter(task=task).delete()  # the database lost them
        ledger = portal
    repo = repository.open_repository(task)
    try:
        found = verify_catalog(repo, ledger, scope)
        assert not found.consistent and found.missing_in_catalog == ids and not found.repaired
        assert ledger.snapshot_states(scope) == {}  # verifying alone changes nothing

        fixed = verify_catalog(repo, ledger, scope, repair=True)
        assert fixed.repaired and ledger.snapshot_states(scope) == {ids[0]: False, ids[1]: False}
        rebuilt = sorted((e.item_id, e.item_type, e.path) for e in ledger.entries_at(scope, uid, ids[1]))
        assert rebuilt == expected  # the entries read back from the tree are the backup's own
        assert verify_catalog(repo, ledger, scope).consistent

        # a snapshot removed from the repository behind the catalog's back, then put back
        path = Path(task.repository) / "snapshots" / ids[0]
        saved = path.read_bytes()
        path.unlink()
        gone = verify_catalog(repo, ledger, scope, repair=True)
        assert gone.missing_in_repository == [ids[0]]
        assert ledger.snapshot_states(scope) == {ids[0]: True, ids[1]: False}
        path.write_bytes(saved)
        back = verify_catalog(repo, ledger, scope, repair=True)
        assert back.wrongly_forgotten == [ids[0]] and ledger.snapshot_states(scope)[ids[0]] is False
        assert verify_catalog(repo, ledger, scope).consistent
    finally:
        repo.close()


@pytest.mark.django_db(transaction=True)
def test_verify_catalog_command(
    client: Any, admin: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from boxvault.backups import cli as module
    from boxvault.backups.models import CatalogSnapshot

    task, _uid, ids = _task_with_two_snapshots(client, admin, sandbox)
    monkeypatch.setattr(module, "_setup", lambda data: None)
    runner = CliRunner()
    ok = runner.invoke(module.app, ["verify-catalog", str(task.pk)])
    assert ok.exit_code == 0 and "consistent" in ok.output, ok.output
    CatalogSnapshot.objects.filter(snapshot_id=ids[1]).delete()
    bad = runner.invoke(module.app, ["verify-catalog", str(task.uuid), "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["missing_in_catalog"] == [ids[1]]
    fixed = runner.invoke(module.app, ["verify-catalog", str(task.pk), "--repair", "--json"])
    assert fixed.exit_code == 0 and json.loads(fixed.output)["repaired"] is True
    assert CatalogSnapshot.objects.filter(snapshot_id=ids[1]).exists()
    missing = runner.invoke(module.app, ["verify-catalog", "999999"])
    assert missing.exit_code == 1 and "no backup task" in missing.output
