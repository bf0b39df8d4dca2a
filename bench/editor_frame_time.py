"""Editor frame time on a big graph: starts server.py, opens the editor in Chromium, loads a
500-node graph (chains of image nodes, every node linked), pans the canvas on every frame
and prints requestAnimationFrame intervals (not a test).

    .venv/bin/python bench/editor_frame_time.py [--nodes 500] [--frames 240]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from e2e_server import ServerProcess, prepare_base  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
CHAIN = ("EmptyImage", "ImageInvert", "ImageInvert", "ImageScaleBy", "PreviewImage")

BUILD = """([count, chain]) => {
  const app = window.comfyApp;
  const { LiteGraph } = app.lib;
  app.loadWorkflow({ nodes: [], links: [] }, { quiet: true });
  let previous = null;
  for (let i = 0; i < count; i += 1) {
    const k = i % chain.length;
    const node = LiteGraph.createNode(chain[k]);
    node.pos = [Math.floor(i / chain.length) % 7 * 1460 + k * 290, Math.floor(i / (chain.length * 7)) * 420];
    app.graph.add(node);
    if (k > 0) previous.connect(0, node, 0);
    previous = node;
  }
  return app.graph._nodes.length;
}"""

MEASURE = """([frames, scale]) => new Promise((resolve) => {
  const app = window.comfyApp;
  app.canvas.ds.scale = scale;
  const deltas = [];
  let visible = 0;
  let last = null;
  const step = (t) => {
    if (last !== null) deltas.push(t - last);
    last = t;
    visible = Math.max(visible, app.canvas.visible_nodes.length);
    // pan on a circle of 200 screen px around the top-left part of the graph
    const a = (deltas.length / 60) * Math.PI;
    app.canvas.ds.offset = [(-200 + 200 * Math.cos(a)) / scale, (-100 + 200 * Math.sin(a)) / scale];
    app.canvas.setDirty(true, true);
    if (deltas.length < frames) requestAnimationFrame(step);
    else resolve({ deltas, visible });
  };
  requestAnimationFrame(step);
})"""


def summary(deltas: list[float]) -> dict[str, float]:
    ordered = sorted(deltas)
    return {"median_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
            "max_ms": ordered[-1], "fps": 1000 / statistics.mean(ordered)}


def run(nodes: int, frames: int) -> list[dict]:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(prepare_base(Path(tmp)))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(server.url + "/")
                page.wait_for_selector("body[data-ready=true]")
                assert page.evaluate(BUILD, [nodes, list(CHAIN)]) == nodes
                rows = []
                for scale in (1.0, 0.5, 0.14):
                    result = page.evaluate(MEASURE, [frames, scale])
                    rows.append({"scale": scale, "visible_nodes": result["visible"], **summary(result["deltas"])})
                browser.close()
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--frames", type=int, default=240)
    args = parser.parse_args()
    rows = run(args.nodes, args.frames)
    print(f"{args.nodes} nodes, {args.frames} frames per zoom level, panning every frame (Chromium, software GL)")
    print(f"{'scale':>6} {'visible':>8} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'fps':>6}")
    for r in rows:
        print(f"{r['scale']:>6} {r['visible_nodes']:>8} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} "
              f"{r['max_ms']:>8.1f} {r['fps']:>6.1f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
