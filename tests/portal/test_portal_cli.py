"""The operator CLI and `boxvault serve` as real subprocesses, each with its own data directory."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import boxvault_cmd, cli_env, free_port, run_cli, wait_for


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated data directory copied into each test: migrating an empty SQLite database costs seconds."""
    template = tmp_path_factory.mktemp("template") / "data"
    run_cli(["manage", "migrate", "-v", "0"], env=_env(template))
    return template


@pytest.fixture
def data(tmp_path: Path, migrated: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(migrated, target)
    (target / "secret_key").unlink()  # each directory gets its own on first run
    return target


def _env(data: Path) -> dict[str, str]:
    return {"BOXVAULT_DATA": str(data), "DATABASE_URL": "", "BOXVAULT_REDIS_URL": ""}


def test_account_and_token_create(data: Path, tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("Operator-Chosen-Pass-1\n")
    out = run_cli(
        [
            "account",
            "create",
            "--email",
            "Ops@Corp.example",
            "--password-file",
            str(password),
            "--name",
            "Corp",
            "--json",
        ],
        env=_env(data),
    ).stdout
    created = json.loads(out)
    assert created["name"] == "Corp" and created["email"] == "ops@corp.example"
    assert (data / "secret_key").is_file() and (data / "boxvault.sqlite3").is_file()
    token = run_cli(["token", "create", "--email", "ops@corp.example"], env=_env(data)).stdout.strip()
    assert token.startswith("bvt_") and len(token) > 40
    again = run_cli(
        ["account", "create", "--email", "ops@corp.example", "--password-file", str(password)],
        env=_env(data),
        check=False,
    )
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["account", "create", "--email", "x@y.example", "--password-file", "/nonexistent"], "cannot read"),
        (["account", "create", "--email", "not-mail", "--password-file", "{pw}"], "valid e-mail"),
        (["account", "create", "--email", "x@y.example", "--password-file", "{short}"], "too short"),
        (["token", "create", "--email", "ghost@y.example"], "no user"),
    ],
)
def test_cli_bad_input(data: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "pw").write_text("Fine-Password-123")
    (tmp_path / "short").write_text("short")
    args = [a.format(pw=tmp_path / "pw", short=tmp_path / "short") for a in args]
    proc = run_cli(args, env=_env(data), check=False)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_manage_passes_arguments(data: Path) -> None:
    out = run_cli(["manage", "showmigrations", "accounts"], env=_env(data)).stdout
    assert "0001_initial" in out


def test_serve_runs_and_stops_on_ctrl_c(data: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--port", str(port), "--data", str(data), "--demo"),
        env=cli_env(_env(data)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200,
            timeout=60,
            what="boxvault serve",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as response:
            assert b'name="login"' in response.read()
        assert (data / "queue.sqlite3").is_file()
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = proc.stdout.read() if proc.stdout else ""
    assert "Demo Box enterprise: sandbox on http://127.0.0.1:" in output
    assert "boxvault stopped." in output and "Traceback" not in output


def _start(data: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        boxvault_cmd("serve", "--port", str(port), "--data", str(data)),
        env=cli_env({**_env(data), **extra}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # probes answer whatever the Host header and scheme (HealthCheckMiddleware)
    try:
        wait_for(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200,
            timeout=60,
            what="boxvault serve",
        )
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def test_serve_behind_a_tls_proxy(data: Path) -> None:
    port = free_port()
    proc = _start(
        data,
        port,
        {
            "BOXVAULT_ALLOWED_HOSTS": "backup.example.com",
            "BOXVAULT_TRUSTED_PROXY": "127.0.0.1",
            "BOXVAULT_SECRET_KEY": "x" * 60,
        },
    )
    try:

        def get(headers: dict[str, str]) -> tuple[int, str]:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/accounts/login/", headers={"Host": "backup.example.com", **headers}
            )
            opener = urllib.request.build_opener(_NoRedirect)
            try:
                with opener.open(request, timeout=5) as response:
                    return response.status, response.headers.get("Strict-Transport-Security", "")
            except urllib.error.HTTPError as exc:
                return exc.code, exc.headers.get("Location", "")

        # plain HTTP goes to HTTPS; through the proxy (X-Forwarded-Proto: https) the page comes with HSTS
        assert get({}) == (301, "https://backup.example.com/accounts/login/")
        status, hsts = get({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert status == 200 and "max-age=31536000" in hsts
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.mark.redis
def test_redis_url_switches_the_queue(data: Path) -> None:
    import os

    url = os.environ.get("BOXVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means "no Redis here"
        from support import missing

        missing("Redis")
    code = "from huey.contrib.djhuey import HUEY; print(type(HUEY).__name__, HUEY.storage.conn.ping())"
    out = run_cli(["manage", "shell", "-c", code], env={**_env(data), "BOXVAULT_REDIS_URL": url}).stdout
    assert out.splitlines()[-1].split() == ["RedisHuey", "True"]
    out = run_cli(
        ["manage", "shell", "-c", code.replace(", HUEY.storage.conn.ping()", "")], env=_env(data)
    ).stdout
    assert out.splitlines()[-1] == "SqliteHuey"


def test_worker_runs_queued_tasks(data: Path, tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("Worker-Test-Pass-1")
    run_cli(
        ["account", "create", "--email", "w@w.example", "--password-file", str(tmp_path / "pw")],
        env=_env(data),
    )
    worker = subprocess.Popen(
        boxvault_cmd("worker", "--data", str(data), "--workers", "1"),
        env=cli_env(_env(data)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # enqueued by one process (an account whose grace period is over), executed by the worker
        enqueue = (
            "from datetime import UTC, datetime; from boxvault.accounts.models import Account; "
            "Account.objects.update(removal_due_at=datetime(2000, 1, 1, tzinfo=UTC)); "
            "from boxvault.accounts.tasks import purge_removed_accounts as task; task()"
        )
        run_cli(["manage", "shell", "-c", enqueue], env=_env(data))
        count = "from boxvault.accounts.models import Account; print('accounts', Account.objects.count())"

        def purged() -> bool:
            out = run_cli(["manage", "shell", "-c", count], env=_env(data)).stdout
            return out.splitlines()[-1] == "accounts 0"

        wait_for(purged, timeout=60, what="the worker to purge the account")
    finally:
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=20) == 0
    assert "Traceback" not in (worker.stdout.read() if worker.stdout else "")


def test_demo_without_the_demo_module_is_a_notice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:

    from boxvault.portal.cli import _start_demo

    monkeypatch.setitem(sys.modules, "boxvault.backups.demo", None)  # makes the import fail
    _start_demo(tmp_path)
    assert "demo Box enterprise is not available yet" in capsys.readouterr().err


def test_serve_links_point_where_it_listens(tmp_path: Path) -> None:
    # Job e-mails (sent by serve's own queue workers) linked to port 8000 whatever --port said.

    code = (
        "import sys, boxvault.portal.server as server\n"
        "from django.conf import settings\n"
        "server.run = lambda *a, **k: print('BASE', settings.BOXVAULT_BASE_URL)\n"
        "from boxvault.cli import main\n"
        "sys.argv = ['boxvault', 'serve', '--port', '8100']\n"
        "main()\n"
    )
    env = cli_env({"BOXVAULT_DATA": str(tmp_path / "data"), "DATABASE_URL": "", "BOXVAULT_REDIS_URL": ""})
    env.pop("BOXVAULT_BASE_URL", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "BASE http://127.0.0.1:8100" in out.stdout, out.stdout + out.stderr
    env["BOXVAULT_BASE_URL"] = "https://backup.example.com"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "BASE https://backup.example.com" in out.stdout, out.stdout + out.stderr


def test_listen_url() -> None:
    from boxvault.portal.cli import listen_url

    assert listen_url("0.0.0.0", 8100) == "http://127.0.0.1:8100"
    assert listen_url("::1", 9000) == "http://[::1]:9000"
    assert listen_url("backup.lan", 80) == "http://backup.lan:80"
