"""The sandbox can run in a thread of another process (how `boxvault serve --demo` embeds it)."""

from __future__ import annotations

import requests

from boxvault.sandbox.seed import SeedOptions, seed
from boxvault.sandbox.server import BackgroundSandbox
from boxvault.sandbox.store import Store


def test_background_sandbox_serves_and_stops(tmp_path) -> None:
    store = Store(tmp_path / "sb")
    info = seed(store, SeedOptions(users=1, files_per_user=5, large_files=0))
    store.close()
    server = BackgroundSandbox(tmp_path / "sb")
    with server as url:
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json()["seeded"] is True
        token = requests.post(
            f"{url}/oauth2/token",
            timeout=5,
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "box_subject_type": "enterprise",
                "box_subject_id": info["enterprise_id"],
            },
        ).json()["access_token"]
        me = requests.get(f"{url}/2.0/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert me.status_code == 200
    try:
        requests.get(f"{server.url}/_sandbox/health", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the server still answers after stop()")
