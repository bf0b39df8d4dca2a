"""Regenerate tests/fixtures/frontend/: workflows built in ComfyUI's own frontend and the API
prompt that frontend sends for each, the reference both workflow converters are tested on
(tests/graph/test_graph_frontend_fixtures.py, tests/web/graph_frontend_fixtures.test.mjs).

    .venv/bin/python scripts/make_frontend_fixtures.py [--out DIR] [--only NAME ...]

It starts server.py (which serves the installed comfyui-frontend-package) on a scratch base
folder holding the demo checkpoint, opens the frontend in Debian's Chromium, and for each
scenario below builds the graph with the frontend's own objects (LiteGraph nodes, links,
reroutes, groups, subgraph conversion, legacy group-node loading: what its UI calls), then
queues it with the frontend's "Comfy.QueuePrompt" command and records the POST /prompt body
the frontend sends (prompt + extra_pnginfo.workflow). The server receives the request as
sent, answers it, and the queue is cleared afterwards so nothing runs for long. Math.random
is fixed at 0.5 while queueing, so dynamic-prompt choices can be repeated by the tests.

Each fixture file: {"frontend_version", "scenario", "captured_at" (the page's local date and
time, for %date:...% in filename prefixes), "server_status" (what POST /prompt answered),
"workflow", "prompt"}.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from e2e_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from frontend_page import FrontendPage, prepare_frontend_base, start_server  # noqa: E402

log = logging.getLogger("make_frontend_fixtures")
OUT = ROOT / "tests" / "fixtures" / "frontend"
DEMO_CHECKPOINT = "demo/shapes-sd1-tiny.safetensors"
LEGACY_GROUP_NODES = ROOT / "tests" / "web" / "fixtures" / "group_node_workflow.json"

# Helpers defined in the page before each scenario: build with the frontend's own objects.
PRELUDE = """
const app = window.app, LG = window.LiteGraph;
const add = (type, pos, title) => { const n = LG.createNode(type); if (!n) throw new Error('no node type ' + type);
  n.pos = pos; if (title) n.title = title; app.graph.add(n); return n; };
const slotIn = (n, s) => typeof s === 'number' ? s : n.findInputSlot(s);
const slotOut = (n, s) => typeof s === 'number' ? s : n.findOutputSlot(s);
const link = (a, as, b, bs) => { const l = a.connect(slotOut(a, as), b, slotIn(b, bs));
  if (!l) throw new Error(`cannot link ${a.type}.${as} -> ${b.type}.${bs}`); return l; };
const set = (n, name, v) => { const w = n.widgets.find((w) => w.name === name);
  if (!w) throw new Error(`${n.type} has no widget ${name}`); w.value = v; w.callback?.(v, app.canvas, n); };
const setFirst = (n, v) => { const w = n.widgets[0]; w.value = v; w.callback?.(v, app.canvas, n); };
const group = (title, nodes) => { const gr = new LG.LGraphGroup(title); app.graph.add(gr);
  gr.resizeTo(nodes, 10); return gr; };
const txt2img = (prefix) => {
  app.graph.clear();
  const ckpt = add('CheckpointLoaderSimple', [0, 0]);
  const pos = add('CLIPTextEncode', [420, 0], 'Positive'), neg = add('CLIPTextEncode', [420, 260], 'Negative');
  link(ckpt, 'CLIP', pos, 'clip'); link(ckpt, 'CLIP', neg, 'clip');
  const latent = add('EmptyLatentImage', [420, 520]);
  set(latent, 'width', 64); set(latent, 'height', 64);
  const ks = add('KSampler', [840, 0]);
  set(ks, 'steps', 2); set(ks, 'cfg', 5.5); set(ks, 'sampler_name', 'dpmpp_2m'); set(ks, 'scheduler', 'karras');
  link(ckpt, 'MODEL', ks, 'model'); link(pos, 0, ks, 'positive'); link(neg, 0, ks, 'negative');
  link(latent, 0, ks, 'latent_image');
  const decode = add('VAEDecode', [1240, 0]); link(ks, 0, decode, 'samples'); link(ckpt, 'VAE', decode, 'vae');
  const save = add('SaveImage', [1500, 0]); link(decode, 0, save, 'images');
  set(save, 'filename_prefix', prefix ?? 'fixtures/ComfyUI');
  return {ckpt, pos, neg, latent, ks, decode, save};
};
"""

SCENARIOS: dict[str, tuple[str, str]] = {
    "txt2img_controls_dynamic": (
        "Text to image built node by node: seed with 'increment' control, combo and number widgets, "
        "dynamic prompts (choices, nested choices, escapes, // and /* */ comments), a filename "
        "prefix with %date:...% and %Node.widget% references, a Note and a MarkdownNote.",
        """
        const g = txt2img('fixtures/%date:yyyy-MM-dd%/%KSampler.seed%_%Positive.clip%');
        set(g.ks, 'seed', 123456789); set(g.ks, 'control_after_generate', 'increment');
        set(g.pos, 'text', 'a {red|green|blue} {cube|sphere {on a table|in the sky}} // dropped\\n'
          + 'in /* hidden */ soft light, \\\\{not a choice\\\\}, (weight:1.2)');
        set(g.neg, 'text', '{blurry|noisy}, low quality');
        const note = add('Note', [0, 400]); set(note, 'text', 'notes are not sent');
        add('MarkdownNote', [0, 600]);
        """),
    "primitives_reroutes": (
        "Widgets converted to inputs and fed by legacy PrimitiveNodes (seed with 'fixed' control, "
        "sampler_name combo, the positive text) and by primitive nodes (PrimitiveInt -> steps, "
        "PrimitiveFloat -> cfg); MODEL through two legacy Reroute nodes in series, CLIP and VAE "
        "through native link reroutes.",
        """
        const g = txt2img();
        const seed = add('PrimitiveNode', [420, 700]); link(seed, 0, g.ks, 'seed');
        setFirst(seed, 987654321); set(seed, 'control_after_generate', 'fixed');
        const sampler = add('PrimitiveNode', [420, 850]); link(sampler, 0, g.ks, 'sampler_name');
        setFirst(sampler, 'euler_ancestral');
        const text = add('PrimitiveNode', [0, 700]); link(text, 0, g.pos, 'text');
        setFirst(text, 'a {small|large} cube');
        const steps = add('PrimitiveInt', [420, 1000]); set(steps, 'value', 3); link(steps, 0, g.ks, 'steps');
        const cfg = add('PrimitiveFloat', [420, 1150]); set(cfg, 'value', 4.5); link(cfg, 0, g.ks, 'cfg');
        const r1 = add('Reroute', [600, -200]), r2 = add('Reroute', [720, -200]);
        link(g.ckpt, 'MODEL', r1, 0); link(r1, 0, r2, 0); link(r2, 0, g.ks, 'model');
        for (const [target, input] of [[g.neg, 'clip'], [g.decode, 'vae']]) {
          const l = app.graph.getLink(target.inputs[slotIn(target, input)].link);
          app.graph.createReroute([target.pos[0] - 60, target.pos[1] + 40], l);
        }
        """),
    "muted_bypassed_groups": (
        "A bypassed LoraLoader between the checkpoint and both MODEL and CLIP consumers, a bypassed "
        "LatentUpscaleBy before the sampler, a muted VAEDecode feeding a PreviewImage, a muted "
        "PreviewImage branch, and groups around parts of the graph.",
        """
        const g = txt2img();
        const lora = add('LoraLoader', [200, -300]);
        link(g.ckpt, 'MODEL', lora, 'model'); link(g.ckpt, 'CLIP', lora, 'clip');
        link(lora, 'MODEL', g.ks, 'model'); link(lora, 'CLIP', g.pos, 'clip'); link(lora, 'CLIP', g.neg, 'clip');
        set(lora, 'strength_model', 0.7);
        lora.mode = 4;
        const up = add('LatentUpscaleBy', [640, 520]); link(g.latent, 0, up, 'samples'); link(up, 0, g.ks, 'latent_image');
        up.mode = 4;
        const decode2 = add('VAEDecode', [1240, 300]); link(g.ks, 0, decode2, 'samples'); link(g.ckpt, 'VAE', decode2, 'vae');
        decode2.mode = 2;
        const preview = add('PreviewImage', [1500, 300]); link(decode2, 0, preview, 'images');
        const preview2 = add('PreviewImage', [1500, 600]); link(g.decode, 0, preview2, 'images');
        preview2.mode = 2;
        group('Prompts', [g.pos, g.neg]);
        group('Sampling', [g.ks, g.decode, g.save]);
        """),
    "subgraphs": (
        "Subgraphs made with the frontend's 'convert to subgraph': the two prompts (their text "
        "widgets promoted to the instance), and the sampler with its decoder, which is then "
        "converted again together with the save node (a subgraph inside a subgraph).",
        """
        const g = txt2img();
        set(g.pos, 'text', 'a {red|blue} cube'); set(g.ks, 'seed', 42); set(g.ks, 'control_after_generate', 'fixed');
        app.graph.convertToSubgraph(new Set([g.pos, g.neg]));
        const inner = app.graph.convertToSubgraph(new Set([g.ks, g.decode])).node;
        const save = app.graph.nodes.find((n) => n.type === 'SaveImage');
        app.graph.convertToSubgraph(new Set([inner, save]));
        """),
    "img2img_advanced": (
        "Image to image: LoadImage (its upload button entry), ImageScale, VAEEncode, "
        "KSamplerAdvanced (noise_seed with 'decrement' control, start/end steps, leftover noise) "
        "and LatentUpscaleBy, into a PreviewImage.",
        """
        app.graph.clear();
        const ckpt = add('CheckpointLoaderSimple', [0, 0]);
        const image = add('LoadImage', [0, 300]); set(image, 'image', 'example.png');
        const scale = add('ImageScale', [300, 300]); link(image, 'IMAGE', scale, 'image');
        set(scale, 'width', 64); set(scale, 'height', 64); set(scale, 'upscale_method', 'bilinear');
        const encode = add('VAEEncode', [600, 300]); link(scale, 0, encode, 'pixels'); link(ckpt, 'VAE', encode, 'vae');
        const pos = add('CLIPTextEncode', [420, 0]), neg = add('CLIPTextEncode', [420, 200]);
        link(ckpt, 'CLIP', pos, 'clip'); link(ckpt, 'CLIP', neg, 'clip'); set(pos, 'text', 'a {b|c}d');
        const ks = add('KSamplerAdvanced', [900, 0]);
        set(ks, 'noise_seed', 77); set(ks, 'control_after_generate', 'decrement'); set(ks, 'steps', 4);
        set(ks, 'start_at_step', 1); set(ks, 'end_at_step', 3); set(ks, 'return_with_leftover_noise', 'enable');
        link(ckpt, 'MODEL', ks, 'model'); link(pos, 0, ks, 'positive'); link(neg, 0, ks, 'negative');
        link(encode, 0, ks, 'latent_image');
        const up = add('LatentUpscaleBy', [1200, 0]); link(ks, 0, up, 'samples'); set(up, 'scale_by', 1.25);
        const decode = add('VAEDecode', [1400, 0]); link(up, 0, decode, 'samples'); link(ckpt, 'VAE', decode, 'vae');
        const preview = add('PreviewImage', [1650, 0]); link(decode, 0, preview, 'images');
        """),
    "v3_dynamic_inputs": (
        "Nodes with ComfyUI's V3 dynamic inputs: BatchImagesNode, BatchMasksNode and BatchLatentsNode "
        "(growing input lists, one spare socket after the linked ones), ComfySwitchNode (type-following inputs and "
        "output), ResizeImageMaskNode (a combo whose choice adds its own widgets and sockets: 'scale "
        "dimensions', 'match size' with a mask input, the default 'scale by multiplier', 'scale "
        "longer dimension' with its size widget fed by a PrimitiveInt).",
        """
        app.graph.clear();
        const a = add('EmptyImage', [0, 0]); set(a, 'width', 64); set(a, 'height', 48); set(a, 'color', 16711680);
        const b = add('EmptyImage', [0, 300]); set(b, 'width', 32); set(b, 'height', 32); set(b, 'batch_size', 2);
        const batch = add('BatchImagesNode', [400, 0]);
        link(a, 0, batch, 'images.image0'); link(b, 0, batch, 'images.image1'); link(a, 0, batch, 'images.image2');
        const resize = add('ResizeImageMaskNode', [700, 0]); link(batch, 0, resize, 'input');
        set(resize, 'resize_type', 'scale dimensions'); set(resize, 'resize_type.width', 40);
        set(resize, 'resize_type.height', 24); set(resize, 'resize_type.crop', 'disabled');
        set(resize, 'scale_method', 'bilinear');
        const sw = add('ComfySwitchNode', [1000, 0]); link(resize, 0, sw, 'on_true'); link(a, 0, sw, 'on_false');
        set(sw, 'switch', true);
        const preview = add('PreviewImage', [1300, 0]); link(sw, 0, preview, 'images');
        const mask = add('SolidMask', [0, 600], 'Mask'); set(mask, 'width', 16); set(mask, 'height', 16);
        const fit = add('ResizeImageMaskNode', [400, 600]); link(mask, 0, fit, 'input');
        set(fit, 'resize_type', 'match size'); link(b, 0, fit, 'resize_type.match'); set(fit, 'resize_type.crop', 'disabled');
        const masks = add('BatchMasksNode', [700, 600]); link(fit, 0, masks, 'masks.mask0'); link(mask, 0, masks, 'masks.mask1');
        const maskPreview = add('MaskPreview', [1000, 600]); link(masks, 0, maskPreview, 'mask');
        const half = add('ResizeImageMaskNode', [400, 900]); link(b, 0, half, 'input'); set(half, 'resize_type.multiplier', 0.5);
        const preview2 = add('PreviewImage', [700, 900]); link(half, 0, preview2, 'images');
        const size = add('PrimitiveInt', [0, 1100]); set(size, 'value', 20); set(size, 'control_after_generate', 'fixed');
        const longer = add('ResizeImageMaskNode', [400, 1100]); link(b, 0, longer, 'input');
        set(longer, 'resize_type', 'scale longer dimension'); link(size, 0, longer, 'resize_type.longer_size');
        const preview3 = add('PreviewImage', [700, 1100]); link(longer, 0, preview3, 'images');
        const la = add('EmptyLatentImage', [0, 1400]); set(la, 'width', 64); set(la, 'height', 64);
        const lb = add('EmptyLatentImage', [0, 1650]); set(lb, 'width', 32); set(lb, 'height', 32); set(lb, 'batch_size', 2);
        const latents = add('BatchLatentsNode', [400, 1400]); link(la, 0, latents, 'latents.latent0'); link(lb, 0, latents, 'latents.latent1');
        const saveLatent = add('SaveLatent', [700, 1400]); link(latents, 0, saveLatent, 'samples');
        set(saveLatent, 'filename_prefix', 'latents/v3');
        """),
    "remote_combo": (
        "LoadImageOutput: its image combo lists the output folder through a server route (remote, "
        "with the auto-refresh toggle and a refresh button after it, then the upload button), "
        "queued once the frontend has filled it, into a preview.",
        """
        app.graph.clear();
        const load = add('LoadImageOutput', [0, 0]);
        for (let i = 0; i < 200 && load.widgets[0].value === 'Loading...'; i++) await new Promise((r) => setTimeout(r, 50));
        const preview = add('PreviewImage', [400, 0]); link(load, 0, preview, 'images');
        """),
    "legacy_group_nodes": (
        "A workflow with legacy group nodes (extra.groupNodes, 'workflow>NAME' instances) loaded "
        "into the frontend as a user opens an old file.",
        """
        await app.loadGraphData(JSON.parse(arguments_));
        """),
}


def legacy_workflow() -> str:
    """The legacy group-node workflow of the editor's tests, pointed at the demo checkpoint
    (the file a user opens has a model of theirs; ours has this one)."""
    workflow = json.loads(LEGACY_GROUP_NODES.read_text(encoding="utf-8"))
    for node in workflow["nodes"]:
        if node["type"] == "CheckpointLoaderSimple":
            node["widgets_values"] = [DEMO_CHECKPOINT]
    return json.dumps(workflow)


def prepare(base: Path) -> Path:
    """The frontend tests' base folder plus input/example.png for LoadImage and
    output/example.png for LoadImageOutput."""
    from PIL import Image

    prepare_frontend_base(base)
    for folder in ("input", "output"):
        (base / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 40), (200, 40, 40)).save(base / folder / "example.png")
    return base


def scenario_js(body: str) -> str:
    return "async (arguments_) => {" + PRELUDE + body + "}"


def capture(page: FrontendPage, server_url: str) -> dict:
    """Queue the current graph as the Run button does; the POST /prompt body and answer."""
    seen: dict = {}

    def on_request(route) -> None:
        seen["body"] = json.loads(route.request.post_data or "{}")
        route.continue_()

    page.page.route("**/api/prompt", on_request)
    try:
        with page.page.expect_response(lambda r: r.url.endswith("/api/prompt") and r.request.method == "POST") as resp:
            page.js("() => { window.__random = Math.random; Math.random = () => 0.5; }")
            page.js("() => window.app.extensionManager.command.execute('Comfy.QueuePrompt')")
        seen["status"] = resp.value.status
    finally:
        page.js("() => { if (window.__random) Math.random = window.__random; }")
        page.page.unroute("**/api/prompt")
    for path, payload in (("/api/queue", {"clear": True}), ("/api/interrupt", {})):
        request = urllib.request.Request(server_url + path, data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=30).read()
    return seen


def make(out: Path, only: list[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with tempfile.TemporaryDirectory(prefix="frontend-fixtures-") as tmp:
        server = start_server(prepare(Path(tmp)))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = FrontendPage(browser.new_context(viewport={"width": 1600, "height": 1000}), server.url).open()
                version = page.js("() => window.__COMFYUI_FRONTEND_VERSION__")
                legacy = legacy_workflow()
                for name, (description, body) in SCENARIOS.items():
                    if only and name not in only:
                        continue
                    page.js(scenario_js(body), legacy)
                    when = page.js("() => { const d = new Date(); return new Date(d - d.getTimezoneOffset() * 6e4)"
                                   ".toISOString().slice(0, 19); }")
                    seen = capture(page, server.url)
                    if seen["status"] != 200:
                        log.warning("%s: the server answered %s", name, seen["status"])
                    fixture = {"frontend_version": version, "scenario": description, "captured_at": when,
                               "server_status": seen["status"],
                               "workflow": seen["body"]["extra_data"]["extra_pnginfo"]["workflow"],
                               "prompt": seen["body"]["prompt"]}
                    path = out / f"{name}.json"
                    path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
                    written.append(path)
                    log.info("wrote %s (%d prompt nodes)", path, len(fixture["prompt"]))
                browser.close()
        finally:
            server.stop()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the fixture files")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(SCENARIOS), help="scenarios to redo")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    make(args.out, args.only)


if __name__ == "__main__":
    main()
