"""Where Ray may appear, and starting with bad --ray input: the default server never
imports ray (checked inside a running server), only comfy_core/cluster imports it, an
unreachable address or a missing ray package stops the server at start with a clear
message and the command to run."""

import ast
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cluster_harness import free_port

ROOT = Path(__file__).resolve().parents[2]

PROBE_NODE = '''
import sys


class RayLoaded:
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def run(self):
        return {"ui": {"ray": ["ray" in sys.modules]}}


NODE_CLASS_MAPPINGS = {"RayLoaded": RayLoaded}
'''


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, column of the statement) for each import; column 0 = module level."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.col_offset) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.col_offset))
    return found


def test_only_the_cluster_package_imports_ray():
    sources = [ROOT / "server.py", *sorted((ROOT / "comfy_core").rglob("*.py")),
               *sorted((ROOT / "nodes").rglob("*.py"))]
    cluster = ROOT / "comfy_core" / "cluster"
    bad = []
    for path in sources:
        inside = path.is_relative_to(cluster)
        for name, col in imports_of(path):
            if (name == "ray" or name.startswith("ray.")) and not inside:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if name.startswith("comfy_core.cluster") and not inside and (
                    path.name != "server.py" or col == 0):
                bad.append(f"{path.relative_to(ROOT)} imports {name} (col {col})")
    assert not bad, "\n".join(bad)


def test_cluster_package_imports_neither_ray_nor_torch():
    code = ("import sys, importlib\n"
            "for m in ['comfy_core.cluster', 'comfy_core.cluster.actor', 'comfy_core.cluster.pool',"
            " 'comfy_core.cluster.dispatcher', 'comfy_core.cluster.stream']:\n"
            "    importlib.import_module(m)\n"
            "print(sorted(m for m in ('ray', 'torch') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_default_server_process_never_imports_ray(tmp_path):
    (tmp_path / "custom_nodes").mkdir()
    (tmp_path / "custom_nodes" / "ray_probe.py").write_text(PROBE_NODE)
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--base-directory",
                             str(tmp_path), "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        body = json.dumps({"prompt": {"1": {"class_type": "RayLoaded", "inputs": {}}},
                           "prompt_id": "probe"}).encode()
        _post_when_up(url + "/prompt", body, proc)
        record = _history_when_done(url, "probe")
        assert record["status"]["status_str"] == "success"
        assert record["outputs"]["1"]["ray"] == [False]
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _post_when_up(url: str, body: bytes, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "server exited"
        try:
            req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _history_when_done(url: str, prompt_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/history/{prompt_id}", timeout=10) as resp:
            record = json.load(resp).get(prompt_id)
        if record is not None:
            return record
        time.sleep(0.1)
    raise AssertionError("the probe job did not finish")


def _start_server(tmp_path: Path, *flags: str, prelude: str = "") -> subprocess.CompletedProcess:
    code = (f"{prelude}import runpy, sys\n"
            f"sys.argv = ['server.py', '--base-directory', {str(tmp_path)!r}, '--port', "
            f"'{free_port()}', *{list(flags)!r}]\n"
            "runpy.run_path('server.py', run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_unreachable_address_stops_at_start(tmp_path):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    done = _start_server(tmp_path, "--ray", address)
    assert done.returncode == 3
    assert f"cannot reach a Ray cluster at {address}" in done.stderr
    assert "ray start --head" in done.stderr
    assert "To see the GUI" not in done.stderr  # it never bound its port


def test_missing_ray_package_gives_the_pip_command(tmp_path):
    done = _start_server(tmp_path, "--ray", "local",
                         prelude="import sys\nsys.modules['ray'] = None  # as if not installed\n")
    assert done.returncode == 3
    assert "needs the 'ray' package" in done.stderr
    assert "-m pip install -r" in done.stderr and "requirements-cluster.txt" in done.stderr
