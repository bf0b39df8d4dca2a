"""The real server.py and `--front-end-root`: a bad folder stops it at start with a clear
message; without the frontend package it serves this project's editor with a warning."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# server.py as if the frontend package were not installed (its import is blocked).
WITHOUT_PACKAGE = ("import runpy, sys; sys.modules['comfyui_frontend_package'] = None; "
                   "sys.argv = ['server.py', *sys.argv[1:]]; "
                   f"runpy.run_path({str(ROOT / 'server.py')!r}, run_name='__main__')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_to_exit(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "server.py"), "--base-directory", str(tmp_path),
                           "--port", str(_free_port()), *flags],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_unknown_front_end_root_stops_the_server(tmp_path):
    proc = _run_to_exit(tmp_path, "--front-end-root", "no/such/dir")
    assert proc.returncode == 2
    assert "--front-end-root no/such/dir: no such folder" in proc.stderr


def test_front_end_root_without_index_stops_the_server(tmp_path):
    (tmp_path / "dist").mkdir()
    proc = _run_to_exit(tmp_path, "--front-end-root", str(tmp_path / "dist"))
    assert proc.returncode == 2 and "has no index.html" in proc.stderr


def test_missing_frontend_package_falls_back_to_the_editor(tmp_path):
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", WITHOUT_PACKAGE, "--base-directory",
                                 str(tmp_path), "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        page = None
        deadline = time.monotonic() + 60
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    page = resp.read().decode()
            except OSError:
                time.sleep(0.1)
        assert page is not None, log.read_text()[-2000:]
        assert "<title>comfy-core</title>" in page and 'src="/app.js"' in page
        assert "is not installed: serving this project's own editor" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(30)
