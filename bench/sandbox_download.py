"""Download speed of the Box sandbox: one large file over loopback, in MB/s (target: >= 300 MB/s).

Seeds a sandbox with one large generated file, starts `boxvault sandbox serve`, follows the 302 to the
short-lived download URL and streams the body in large reads. The anchor is the speed at which this
process generates the same content in memory (the server's own ceiling); the ratio shows how much of
it survives HTTP over loopback.

    python bench/sandbox_download.py [--size-mb 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from boxvault.sandbox import content  # noqa: E402
from support import boxvault_cmd, cli_env, free_port, run_cli, wait_for  # noqa: E402

READ = 4 * 1024 * 1024


def anchor(ref: str, size: int) -> float:
    start = time.perf_counter()
    for _ in content.generate(ref, size, chunk=READ):
        pass
    return size / (time.perf_counter() - start) / 1e6


def download(url: str, token: str, file_id: str, check: bool) -> tuple[int, float, str]:
    req = urllib.request.Request(
        f"{url}/2.0/files/{file_id}/content", headers={"Authorization": f"Bearer {token}"}
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(req, timeout=30)
        raise SystemExit("expected a 302 to the download URL")
    except urllib.error.HTTPError as e:
        location = e.headers["Location"]
    target = urlparse(location)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    h = hashlib.sha1() if check else None
    start = time.perf_counter()
    conn.request("GET", target.path)
    resp = conn.getresponse()
    buf = bytearray(READ)
    view = memoryview(buf)
    total = 0
    while True:
        n = resp.readinto(view)
        if not n:
            break
        if h is not None:
            h.update(view[:n])
        total += n
    elapsed = time.perf_counter() - start
    conn.close()
    return total, elapsed, h.hexdigest() if h is not None else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4, help="also measure N concurrent downloads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sandbox"
        info = json.loads(
            run_cli(
                [
                    "sandbox",
                    "seed",
                    "--data",
                    str(data),
                    "--users",
                    "1",
                    "--files-per-user",
                    "1",
                    "--large-files",
                    "1",
                    "--large-size-mb",
                    str(args.size_mb),
                    "--json",
                ]
            ).stdout
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            boxvault_cmd("sandbox", "serve", "--data", str(data), "--port", str(port)),
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(
                lambda: urllib.request.urlopen(f"{url}/_sandbox/health", timeout=2).status == 200,
                what="the sandbox",
            )
            user_id = info["users"][0]["id"]
            token_req = urllib.request.Request(
                f"{url}/_sandbox/tokens", method="POST", data=json.dumps({"user_id": user_id}).encode()
            )
            token = json.loads(urllib.request.urlopen(token_req).read())["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            items = json.loads(
                urllib.request.urlopen(
                    urllib.request.Request(
                        f"{url}/2.0/folders/0/items?limit=1000&fields=size,sha1", headers=auth
                    )
                ).read()
            )["entries"]
            files = [e for e in items if e["type"] == "file"]
            while not files:  # the large file sits in a subfolder: search breadth-first
                folder = next(e for e in items if e["type"] == "folder")
                items = json.loads(
                    urllib.request.urlopen(
                        urllib.request.Request(
                            f"{url}/2.0/folders/{folder['id']}/items?limit=1000&fields=size,sha1",
                            headers=auth,
                        )
                    ).read()
                )["entries"]
                files = [e for e in items if e["type"] == "file"]
            big = max(files, key=lambda e: e["size"])
            size, _, digest = download(url, token, big["id"], check=True)
            assert size == big["size"] and digest == big["sha1"], "downloaded content does not match its sha1"
            speeds = []
            for _ in range(args.runs):
                n, elapsed, _ = download(url, token, big["id"], check=False)
                speeds.append(n / elapsed / 1e6)
            parallel = 0.0
            if args.parallel > 1:
                with ThreadPoolExecutor(args.parallel) as pool:
                    start = time.perf_counter()
                    done = list(
                        pool.map(lambda _: download(url, token, big["id"], False)[0], range(args.parallel))
                    )
                    parallel = sum(done) / (time.perf_counter() - start) / 1e6
            base = anchor("bench-anchor", size)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    best = max(speeds)
    print(f"file: {size / 1e6:.0f} MB, sha1 verified")
    print(f"download over loopback: best {best:.0f} MB/s, runs {', '.join(f'{s:.0f}' for s in speeds)} MB/s")
    if parallel:
        print(f"{args.parallel} concurrent downloads: {parallel:.0f} MB/s in total")
    print(f"anchor (in-process content generation): {base:.0f} MB/s; ratio {best / base:.2f}")
    print("target >= 300 MB/s:", "met" if best >= 300 else "NOT met")


if __name__ == "__main__":
    main()
