"""``cllcds serve --demo`` starts uvicorn, prints demo accounts, and the accounts work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from live_server import wait_healthy

from .conftest import free_socket


@pytest.mark.slow
def test_serve_demo(tmp_path: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "CLLCDS_DATA_DIR": str(tmp_path)}
    env.pop("CLLCDS_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("cllcds")),
                "serve",
                "--port",
                str(port),
                "--demo",
                "--no-access-log",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(proc, base, log.read_text)
        text = log.read_text()
        found = re.search(r"demo user: demo \(clinician\) password: (\S+)", text)
        assert found, text
        r = httpx.post(f"{base}/auth/token", json={"username": "demo", "password": found[1]})
        assert r.status_code == 200
        assert "server" not in {k.lower() for k in httpx.get(f"{base}/health").headers}
        assert (tmp_path / "cllcds.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
