"""ComfyUI's own frontend (the installed comfyui-frontend-package) in Chromium, against the
real server.py: one page with what it logged and every same-origin HTTP failure, and the
few user actions the browser tests share (run, wait for a job, click a canvas widget).

The frontend is driven through its UI where a user would click (the Run button, template
cards, the mask editor, dialogs) and read through its public objects (`window.app`,
`window.comfyAPI`), never changed behind its back."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from e2e_server import ROOT, ServerProcess, prepare_base

SHOTS = ROOT / "test-output"
FRONT_END_ENV = "COMFY_TEST_FRONT_END_ROOT"
DEMO = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
# Same-origin answers >= 400 that ComfyUI 0.8.0 gives the same frontend too (path and query
# prefix -> why). Anything else a page receives fails the test that opened it.
COMFYUI_GIVES_TOO = {
    "/user.css": "index.html links a user stylesheet that exists only once the user writes one",
    "/api/userdata/user.css": "the same stylesheet, looked up in the user's folder",
    "/api/userdata/comfy.templates.json": "the user's saved node templates, none yet",
    "/api/userdata/workflows%2F.index.json": "the workflows sidebar's bookmarks, none yet",
    "/api/userdata?dir=workflows&": "listing saved workflows before the first save (no folder)",
    "/api/userdata?dir=subgraphs&": "listing saved subgraph blueprints (no folder)",
    "/api/view?type=input&filename=undefined&": "releases up to 1.50 ask for the preview of a "
                                               "LoadImage added while the input folder is empty",
}
TEMPLATE_CARDS = "() => [...document.querySelectorAll('[data-testid^=template-workflow-]')]" \
    ".map((e) => e.dataset.testid)"
# Console errors that do not come from this server's answers (text prefix -> why): a
# release's own client-side bookkeeping, or a request to another host (the test machine
# reaches none). Any other console error fails the test that saw it.
FRONTEND_OWN_ERRORS = {
    "Attempted to cleanup event listeners for graph that was never set up":
        "1.35's minimap, when the canvas switches away from a graph it never watched",
    "Error fetching file size: TypeError: Failed to fetch":
        "1.35-1.38's missing-models dialog asks the model's download host for its size",
    "ComfyApp graph accessed before initialization":
        "1.42-1.50's own components read the app's graph while the app is still starting",
}
# Splash gone and canvas made before the graph is read (some releases log an error when
# app.graph is read before the app is set up), and a workflow open in the workflow store
# (1.42 opens it a moment after the canvas; its Save command does nothing until then).
READY = "() => !document.getElementById('splash-loader') && !!window.app?.canvas" \
        " && !!window.app.graph && !!window.app.extensionManager?.workflow?.activeWorkflow"


def prepare_frontend_base(base: Path) -> Path:
    """A base folder with the demo checkpoint (a copy: links out of the models folder are
    refused), the example plugin, the slow test node of e2e_server, and a user who chose
    latent2rgb live previews in the frontend's settings (sent with each prompt, so they
    arrive although the server's default is no previews)."""
    prepare_base(base)
    (base / "models" / "checkpoints" / "demo").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO, base / "models" / "checkpoints" / "demo" / DEMO.name)
    shutil.copytree(ROOT / "custom_nodes" / "example_plugin", base / "custom_nodes" / "example_plugin",
                    dirs_exist_ok=True)
    settings = base / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    chosen = {"Comfy.Execution.PreviewMethod": "latent2rgb"}
    if os.environ.get(FRONT_END_ENV):  # an older build than requirements.txt pins, on purpose
        chosen["Comfy.VersionCompatibility.DisableWarnings"] = True
    settings.write_text(json.dumps(chosen))
    return base


def start_server(base: Path, *flags: str) -> ServerProcess:
    """server.py serving the installed frontend package, or the built frontend folder named
    by COMFY_TEST_FRONT_END_ROOT (how docs/frontend.md's version table was made)."""
    other = os.environ.get(FRONT_END_ENV)
    chosen = ("--front-end-root", other) if other else ()
    return ServerProcess(base, "--preview-method", "none", *chosen, *flags)


class FrontendPage:
    """One page of the served frontend and the problems it met."""

    def __init__(self, context, url: str) -> None:
        self.page = context.new_page()
        self.url = url
        self.origin = urlsplit(url).netloc
        self.console: list[tuple[str, str, str]] = []  # (type, text, source url)
        self.page_errors: list[str] = []
        self.failures: list[tuple[int, str]] = []  # (status, path?query) same-origin only
        self.page.on("console", lambda m: self.console.append(
            (m.type, m.text, (m.location or {}).get("url", ""))))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("response", self._record)
        # A build older than the pinned one may show its "version compatibility" alert (1.35
        # does even with the setting that turns it off, read before the settings load); a
        # user closes it, and so does the test whenever it covers what is clicked.
        alert = self.page.locator(".p-toast-message").filter(has_text="Version Compatibility")
        self.page.add_locator_handler(alert, lambda a: _close(a.locator("button")))
        # Likewise the notices that a loaded workflow names models not installed here (a
        # template's own checkpoint) or nodes this server lacks (templates whose nodes
        # have not landed): 1.35 shows them as dialogs over the canvas.
        for title in ("Missing Models", "This workflow has missing nodes"):
            notice = self.page.locator(".p-dialog").filter(has=self.page.get_by_text(title, exact=True))
            self.page.add_locator_handler(notice, lambda d: _close(
                d.locator(".p-dialog-close-button, button[aria-label=Close]")))

    def _record(self, response) -> None:
        parts = urlsplit(response.url)
        if response.status >= 400 and parts.netloc == self.origin:
            self.failures.append((response.status, parts.path + ("?" + parts.query if parts.query else "")))

    def open(self, timeout: float = 90_000) -> FrontendPage:
        self.page.goto(self.url + "/")
        self.page.wait_for_function(READY, timeout=timeout)
        self.page.wait_for_function("() => window.app.graph.nodes.length > 0 || "
                                    "document.querySelector('[data-testid=queue-button]')",
                                    timeout=timeout)
        return self

    def reload(self) -> FrontendPage:
        self.page.reload()
        self.page.wait_for_function(READY, timeout=90_000)
        return self

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"frontend_{name}.png"))

    def unexpected_failures(self) -> list[tuple[int, str]]:
        out = []
        for status, path in self.failures:
            excused = next((p for p in COMFYUI_GIVES_TOO
                            if path == p or (p.endswith("&") and path.startswith(p))), None)
            if excused:
                self._note_excused("answer", excused)
            else:
                out.append((status, path))
        return out

    def console_errors(self) -> list[str]:
        """Console errors other than a resource that failed (checked by status above), one
        a release logs about itself (FRONTEND_OWN_ERRORS) or one from another host (none
        can be reached from the test machine)."""
        out = []
        for kind, text, source in self.console:
            if kind != "error" or text.startswith("Failed to load resource"):
                continue
            # Chromium refuses a stylesheet answered with an error page before any response
            # event: the path that ComfyUI answers so too is in the message.
            refused = text.startswith("Refused to apply style") and next(
                (p for p in COMFYUI_GIVES_TOO if f"{self.origin}{p}'" in text), None)
            excused = refused or next((t for t in FRONTEND_OWN_ERRORS if text.startswith(t)), None)
            if source and urlsplit(source).netloc not in ("", self.origin):
                excused = f"from {urlsplit(source).netloc}"
            if excused:
                self._note_excused("console", excused)
            else:
                out.append(text)
        return out + self.page_errors

    def _note_excused(self, kind: str, what: str) -> None:
        """Append what a listed exception excused, with the frontend served, to
        test-output/frontend_excused.jsonl: which entries each release really needs."""
        SHOTS.mkdir(exist_ok=True)
        frontend = os.environ.get(FRONT_END_ENV) or "installed package"
        with (SHOTS / "frontend_excused.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps({"frontend": frontend, "kind": kind, "excused": what}) + "\n")

    def sidebar_tab(self, name: str):
        """A side bar button ('assets', 'workflows', 'model-library', ...): a test id in
        newer releases, a class in older ones (1.35)."""
        return self.page.locator(f"[data-testid={name}-tab-button], .{name}-tab-button").first

    def open_template(self, name: str, category: str, title: str) -> int:
        """Open template `name` from the template browser as a user would: its category
        (or "All Templates" where a release lists no such category: 1.35 has no "Getting
        Started"), a search for its title, then its card.
        Returns how many cards the browser showed when it opened."""
        self.page.get_by_role("button", name="Templates").first.click()
        cards = self.page.locator("[data-testid^=template-workflow-]")
        cards.first.wait_for(timeout=30_000)
        listed = cards.count()
        nav = self.page.locator("nav, aside, [role=navigation]")
        entry = nav.get_by_text(category, exact=True)
        (entry if entry.count() else nav.get_by_text("All Templates", exact=True)).first.click()
        # 1.35 filters the whole index at once: the page may be busy for a while (2 cores).
        self.page.locator("input[placeholder^=Search]:visible").first.fill(title, timeout=120_000)
        wanted = f"template-workflow-{name}"
        shown: list = []
        for _ in range(120):  # until the filtered grid holds the card and stops changing
            now = self.js(TEMPLATE_CARDS)
            if wanted in now and now == shown:
                break
            shown = now
            self.page.wait_for_timeout(500)
        self.page.get_by_test_id(wanted).click()
        return listed

    def answer_prompt(self, text: str) -> None:
        """Type `text` into the text field of the frontend's prompt dialog (or, 1.35's
        rename, the in-place name editor it focuses) and press Enter. The field is held
        once found: closing a notice meanwhile (the handlers above) moves the focus."""
        field = self.page.locator("[role=dialog] input:not([type]):visible, "
                                  "[role=dialog] input[type=text]:visible, input[type=text]:focus").first
        field.wait_for(timeout=30_000)
        held = field.element_handle()
        held.fill(text)
        held.press("Enter")

    def rename_workflow(self, old: str, new: str) -> None:
        """Rename the open workflow as a user would: the Rename command's dialog where the
        release has that command, else (1.35) a double-click on its name above the canvas,
        which edits it in place."""
        if "Comfy.RenameWorkflow" in self.js("window.app.extensionManager.command.commands.map((c) => c.id)"):
            self.run_command("Comfy.RenameWorkflow")
        else:
            self.page.locator(".p-breadcrumb-item-label", has_text=old).dblclick()
        self.answer_prompt(new)

    def run_command(self, command: str) -> None:
        """Start a frontend command (what its menus and key bindings do); not awaited, as
        commands that ask the user something finish only once answered."""
        self.js("(id) => { window.app.extensionManager.command.execute(id); }", command)

    def record_events(self) -> None:
        """Collect the websocket events the frontend's API client dispatches."""
        self.js("""() => {
            const seen = window.__seen = {previews: 0, executed: [], errors: [], interrupted: []};
            const api = window.comfyAPI.api.api;
            api.addEventListener('b_preview_with_metadata', () => seen.previews++);
            api.addEventListener('executed', (e) => seen.executed.push(e.detail));
            api.addEventListener('execution_error', (e) => seen.errors.push(e.detail));
            api.addEventListener('execution_interrupted', (e) => seen.interrupted.push(e.detail));
        }""")

    def click_run(self) -> None:
        self.page.get_by_test_id("queue-button").click()

    def wait_executed(self, count: int = 1, timeout: float = 120_000) -> list[dict]:
        self.page.wait_for_function(
            "(n) => window.__seen.executed.length >= n || window.__seen.errors.length > 0",
            arg=count, timeout=timeout)
        seen = self.js("window.__seen")
        assert not seen["errors"], seen["errors"]
        return seen["executed"]

    def node(self, node_type: str) -> dict:
        return self.js("(t) => { const n = window.app.graph.nodes.find((n) => n.type === t);"
                       " return n && {id: n.id, widgets: Object.fromEntries((n.widgets ?? [])"
                       ".map((w) => [w.name, w.value]))}; }", node_type)

    def set_widget(self, node_type: str, name: str, value) -> None:
        """Set a widget as its own control would (value and callback), on the first node."""
        self.js("""([t, name, value]) => {
            const node = window.app.graph.nodes.find((n) => n.type === t);
            const widget = node.widgets.find((w) => w.name === name);
            widget.value = value;
            widget.callback?.(value, window.app.canvas, node);
            window.app.graph.setDirtyCanvas(true, true);
        }""", [node_type, name, value])

    def upload_through_widget(self, node_id: int, widget: str, path: Path) -> None:
        """Click a node's upload button on the canvas as a user would and pick `path` in the
        file chooser it opens. A click that lands while a busy canvas is still laying the
        node out opens nothing; the user clicks again, and so does the test (3 tries)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        for attempt in range(3):
            self.page.wait_for_function("""([id, name]) => {
                const w = window.app.graph.getNodeById(id)?.widgets?.find((w) => w.name === name);
                return typeof (w?.y ?? w?.last_y) === 'number';
            }""", arg=[node_id, widget])
            self.js("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
            try:
                with self.page.expect_file_chooser(timeout=15_000) as chooser:
                    self.page.mouse.click(*self.widget_point(node_id, widget))
                chooser.value.set_files(str(path))
                return
            except PlaywrightTimeout:
                if attempt == 2:
                    raise

    def widget_point(self, node_id: int, widget: str) -> tuple[float, float]:
        """Page coordinates of the middle of a canvas widget (to click it as a user)."""
        return tuple(self.js("""([id, name]) => {
            const node = window.app.graph.getNodeById(id);
            const w = node.widgets.find((w) => w.name === name);
            const ds = window.app.canvas.ds, rect = window.app.canvas.canvas.getBoundingClientRect();
            const x = node.pos[0] + node.size[0] / 2, y = node.pos[1] + (w.y ?? w.last_y) + 10;
            return [rect.left + (x + ds.offset[0]) * ds.scale, rect.top + (y + ds.offset[1]) * ds.scale];
        }""", [node_id, widget]))


def _close(button) -> None:
    """Click a notice's close button; a notice replaced or gone meanwhile needs no click
    (Playwright calls the handler again while one is still shown)."""
    from playwright.sync_api import Error

    try:
        button.first.click(timeout=5_000)
    except Error:
        pass


def wait_until(predicate, timeout: float = 30.0, step: float = 0.1):
    """Poll `predicate` until it returns something truthy; that value, or an AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")
