"""The default text-to-image graph run from the browser on a tiny checkpoint: per-node
progress, the sampler's live preview (binary frames) and the saved image; a page reload
while a job runs finds it again; a restarted server is reconnected to. Screenshots go to
test-output/ like the other browser tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_server import CHROMIUM, OWN_EDITOR, ROOT, ServerProcess, free_port, prepare_base
from test_e2e_browser_editor import Editor, build_image_graph

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")

RECORD_EVENTS = """() => {
    const seen = window.__seen = {progress: [], previews: [], executing: []};
    const api = window.comfyApp.api;
    api.addEventListener("progress", (e) => seen.progress.push([e.detail.node, e.detail.value, e.detail.max]));
    api.addEventListener("b_preview", (e) => seen.previews.push(e.detail.meta?.node_id ?? null));
    api.addEventListener("executing", (e) => seen.executing.push(e.detail.node));
}"""


class PortServer(ServerProcess):
    """server.py on a chosen port, so a restarted server answers at the same address."""

    def __init__(self, base: Path, port: int) -> None:  # super().__init__ would pick a port
        self.base = base
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(base / f"server-{port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--base-directory", str(base), "--port", str(port),
             *OWN_EDITOR],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def restart(self) -> None:
        self.stop()
        self.__init__(self.base, self.port)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from tests.fixtures.checkpoints import make_tiny_checkpoint
    path = prepare_base(tmp_path_factory.mktemp("browser_run"))
    make_tiny_checkpoint("sd15", path / "models" / "checkpoints")
    return path


@pytest.fixture(scope="module")
def server(base):
    proc = PortServer(base, free_port())
    yield proc
    proc.stop()


def open_editor(browser, url: str) -> Editor:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    ed = Editor(page, url)
    ed.open()
    return ed


def test_default_graph_runs_with_progress_preview_and_image(browser, server):
    ed = open_editor(browser, server.url)
    assert ed.js("window.comfyApp.graph.getNodeById(4).widgets[0].value") == "sd15_tiny.safetensors"
    for node, name, value in ((5, "width", 64), (5, "height", 64), (3, "steps", 2), (3, "seed", 5)):
        ed.set_widget(node, name, value)
    # Live previews are off by default (ComfyUI's --preview-method none); the editor asks
    # for them through the user's preview setting, as ComfyUI's frontend does.
    ed.page.select_option("#preview-method", "auto")
    ed.page.wait_for_function(
        "async () => (await window.comfyApp.api.getSetting('Comfy.Execution.PreviewMethod')) === 'auto'")
    ed.js(RECORD_EVENTS)
    ed.page.click("#queue-button")
    ed.page.wait_for_function(
        "() => window.comfyApp.graph.getNodeById(9).imagesFor().some((i) => i.complete && i.naturalWidth === 64)",
        timeout=60000)
    seen = ed.js("window.__seen")
    assert [p for p in seen["progress"] if p[0] == "3"] == [["3", 1, 2], ["3", 2, 2]]
    assert seen["previews"] and set(seen["previews"]) == {"3"}
    # previews are scaled to fit --preview-size (512) whatever the latent size (COMPAT 2.5)
    # (the last preview is a blob the page decodes in its own time)
    ed.page.wait_for_function("() => window.comfyApp.graph.getNodeById(3).previewFor()?.complete", timeout=10000)
    assert ed.js("window.comfyApp.graph.getNodeById(3).previewFor()?.naturalWidth") == 512
    assert ["4", "3", "8", "9", None] == [n for n in seen["executing"] if n in ("4", "3", "8", "9", None)]
    state = ed.js("window.comfyApp.store.state.execution.nodeProgress")
    assert state["3"]["value"] == 2 and state["3"]["max"] == 2 and state["3"]["state"] == "finished"
    ed.page.wait_for_function("() => [...document.querySelectorAll('#history-list .history-item.success img')]"
                              ".some((i) => i.complete && i.naturalWidth > 0)", timeout=10000)
    ed.js("() => { const ds = window.comfyApp.canvas.ds; ds.scale = 0.62; ds.offset = [10, 60]; window.comfyApp.markDirty(); }")
    ed.wait_drawn()
    ed.shot("default_graph_run")
    assert ed.unexpected_problems() == []
    ed.page.context.close()


def test_reload_while_running_resyncs_the_queue(browser, server):
    ed = open_editor(browser, server.url)
    ed.clear_graph()
    slow = ed.add_node_by_search("E2ESlow", 400, 300)
    ed.set_widget(slow, "steps", 4000)  # long enough to outlast a reload on a busy machine; cancelled below
    ed.page.click("#queue-button")
    ed.page.wait_for_selector("#queue-running .queue-item", timeout=10000)
    ed.wait_autosaved()  # so the reload shows the same graph
    ed.page.reload()
    ed.page.wait_for_selector("body[data-ready=true]")
    ed.page.wait_for_selector("#queue-running .queue-item", timeout=10000)
    # The same client id came back, so the running job's progress reaches the new page.
    ed.page.wait_for_function(
        "(id) => window.comfyApp.store.state.execution.progress?.node === String(id)", arg=slow, timeout=10000)
    ed.shot("reload_resync")
    ed.page.click("#queue-running .queue-item button")
    ed.page.wait_for_selector("#queue-running .queue-item", state="detached", timeout=10000)
    assert ed.unexpected_problems() == []
    ed.page.context.close()


def test_subgraph_workflow_shows_instances_and_runs_flattened(browser, server):
    workflow = json.loads((ROOT / "tests" / "web" / "fixtures" / "subgraph_workflow.json").read_text())
    ed = open_editor(browser, server.url)
    ed.js("(wf) => window.comfyApp.loadWorkflow(wf)", workflow)
    instances = ed.js("() => window.comfyApp.graph._nodes.filter((n) => n.isSubgraphNode?.()).map((n) => [n.id, n.title])")
    assert instances == [[10, "Prompt pair"], [12, "Decode and save"]]
    assert ed.js("window.comfyApp.graph.getNodeById(10).widgets.map((w) => w.name)") == ["text"]
    prompt = ed.js("window.comfyApp.graphToPrompt().prompt")
    assert sorted(prompt) == ["10:1", "10:2", "12:1", "12:2:2", "3", "4", "5"]
    assert prompt["12:2:2"]["inputs"]["images"] == ["12:1", 0]
    ed.page.click("#queue-button")
    # The nested SaveImage's output is shown on the root instance that holds it.
    ed.page.wait_for_function("() => window.comfyApp.graph.getNodeById(12).imagesFor().some((i) => i.complete)",
                              timeout=60000)
    ed.shot("subgraph_run")
    assert ed.unexpected_problems() == []
    ed.page.context.close()


def test_websocket_reconnects_after_the_server_restarts(browser, server):
    """Runs last: it stops the module's server and starts it again on the same port."""
    ed = open_editor(browser, server.url)
    try:
        server.stop()
        ed.page.wait_for_selector("#status-connection.bad", timeout=10000)
        server.restart()
        ed.page.wait_for_selector("#status-connection.ok", timeout=20000)
        _, sink = build_image_graph(ed, "browser_reconnect")
        ed.page.click("#queue-button")
        ed.page.wait_for_function(
            "(id) => window.comfyApp.graph.getNodeById(id).imagesFor().some((i) => i.complete)", arg=sink, timeout=20000)
        ed.shot("reconnected")
        # While the server was down the socket and the polls failed; nothing else may have.
        assert [e for e in ed.errors if "ERR_CONNECTION_REFUSED" not in e and "WebSocket" not in e] == []
    finally:
        ed.page.context.close()
