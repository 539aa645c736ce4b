"""`sandbox mutate --mode encrypt|delete`: what ransomware or a mass deletion does to one user's Box, seen
through the Box API; bad input is a clear error."""

from __future__ import annotations

import json

from support import run_cli
from support.sandbox import SandboxServer


def _files(client, folder_id: str = "0") -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for e in client.folders.get_folder_items(folder_id, limit=1000, fields=["sha1", "name"]).entries:
        if e.type.value == "folder":
            out.update(_files(client, e.id))
        elif e.type.value == "file":
            out[e.id] = (e.name, e.sha_1)
    return out


def test_encrypt_then_delete_one_user(fresh_sandbox: SandboxServer) -> None:
    sb = fresh_sandbox
    user = sb.users[0]
    client = sb.ccg_client().with_as_user_header(user["id"])
    before = _files(client)
    proc = run_cli(
        ["sandbox", "mutate", "--data", str(sb.data_dir), "--mode", "encrypt", "--user", user["login"],
         "--fraction", "0.5", "--seed", "3", "--json"]
    )  # fmt: skip
    report = json.loads(proc.stdout)
    hit = set(report["file_ids"])
    assert report["mode"] == "encrypt" and len(hit) >= 1
    after = _files(client)
    for fid in hit:
        assert after[fid][0] == before[fid][0] + ".locked" and after[fid][1] != before[fid][1]
    assert all(after[f] == before[f] for f in before if f not in hit)  # the rest untouched
    note = report["ransom_note"]
    assert after[note["id"]][0] == "HOW_TO_DECRYPT_FILES.txt"

    gone = sb.attack("delete", user["id"], fraction=1.0, seed=4)
    # every file the user owns (not those shared with them by others)
    assert set(gone["file_ids"]) <= set(after) and len(gone["file_ids"]) > len(hit)
    left = _files(client)
    assert not set(gone["file_ids"]) & set(left)


def test_attack_bad_input(fresh_sandbox: SandboxServer) -> None:
    sb = fresh_sandbox
    for args, words in [
        (["--mode", "encrypt"], "needs --user"),
        (["--mode", "shred", "--user", "x"], "--mode must be one of"),
        (["--mode", "delete", "--user", "nobody@nowhere"], "no user"),
    ]:
        proc = run_cli(
            ["sandbox", "mutate", "--data", str(sb.data_dir), "--fraction", "0.5", *args], check=False
        )
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
    import httpx

    for body, words in [
        ({"mode": "encrypt", "fraction": 0.5}, "'user'"),
        ({"mode": "x", "user": "1"}, "'mode'"),
        ({"mode": "encrypt", "user": "nobody", "fraction": 0.5}, "no user"),
    ]:
        response = httpx.post(f"{sb.url}/_sandbox/mutate", json=body)
        assert response.status_code == 400 and words in response.text
