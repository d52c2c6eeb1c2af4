"""`chairside studio` as the office runs it: prints its address, serves, Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx

from tests.conftest import free_port
from tests.support import REPO


def test_studio_prints_a_secret_address_serves_it_and_stops_on_ctrl_c(tmp_workspace):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "chairside", "studio", "--no-browser", "--port", str(port)],
        cwd=tmp_workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        url = re.search(r"http://127\.0\.0\.1:(\d+)/login\?token=\S+", "".join(lines))
        assert url and int(url.group(1)) == port, lines
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/").status_code == 403
            client.get(url.group(0))
            page = client.get("/").text
            if 'hx-get="/campaigns/list"' in page:  # still being read: loaded as a browser does
                page = client.get("/campaigns/list").text
            assert "2026-12" in page
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Chairside Studio stopped." in output
    assert "Traceback" not in output
    assert "GET /" not in output  # no access log: request lines stay out of the terminal


def test_a_port_in_use_is_a_clear_error(tmp_workspace, run):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run(
            "studio", "--no-browser", "--port", str(busy.getsockname()[1]), cwd=tmp_workspace
        )
    assert result.exit_code == 1
    assert "another program uses it" in result.output
