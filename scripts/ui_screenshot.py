"""Take the README's screenshot of the default UI: server.py on a scratch base folder with
the demo checkpoint, ComfyUI's frontend in Debian's Chromium, the start-up graph run once,
the page saved as docs/frontend-default-ui.png.

    .venv/bin/python scripts/ui_screenshot.py [--out PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
log = logging.getLogger("ui_screenshot")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/api/system_stats", timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server.py did not answer")


# Hide the minimap, give the saved image room, and frame the graph at a zoom where the
# canvas draws its text.
FRAME = """async () => {
    await window.app.extensionManager.setting.set('Comfy.Minimap.Visible', false);
    const nodes = window.app.graph.nodes;
    nodes.find((n) => n.type === 'SaveImage').setSize([300, 330]);
    const left = Math.min(...nodes.map((n) => n.pos[0])), top = Math.min(...nodes.map((n) => n.pos[1]));
    const ds = window.app.canvas.ds;
    ds.scale = 0.85;
    ds.offset = [110 / ds.scale - left, 140 / ds.scale - top];
    window.app.canvas.setDirty(true, true);
}"""


def shoot(url: str, out: Path, seed: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1600, "height": 800})
        page.goto(url + "/")
        page.wait_for_function("() => window.app?.graph?.nodes.length > 0", timeout=90_000)
        page.evaluate("""(seed) => {
            const sampler = window.app.graph.nodes.find((n) => n.type === 'KSampler');
            sampler.widgets.find((w) => w.name === 'seed').value = seed;
            sampler.widgets.find((w) => w.name === 'control_after_generate').value = 'fixed';
        }""", seed)
        page.get_by_test_id("queue-button").click()
        page.wait_for_function("() => window.app.graph.nodes.find((n) => n.type === 'SaveImage')"
                               ".imgs?.some((i) => i.complete && i.naturalWidth > 0)", timeout=120_000)
        page.evaluate(FRAME)
        time.sleep(1.5)
        page.screenshot(path=str(out))
        browser.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "frontend-default-ui.png")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        (base / "models" / "checkpoints" / "demo").mkdir(parents=True)
        shutil.copy(DEMO, base / "models" / "checkpoints" / "demo" / DEMO.name)
        port = _free_port()
        proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--base-directory",
                                 str(base), "--port", str(port), "--preview-method", "latent2rgb"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(f"http://127.0.0.1:{port}", proc)
            shoot(f"http://127.0.0.1:{port}", args.out, args.seed)
        finally:
            proc.terminate()
            proc.wait(30)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
