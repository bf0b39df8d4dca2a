"""What the served frontend needs besides the API: the web root choice, the workflow
template packages, node docs, plugin browser scripts, example workflows and translations,
with the real installed packages (comfyui-frontend-package, -workflow-templates,
-embedded-docs)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from comfy_core.api import create_app
from comfy_core.api.frontend import (
    BUILTIN_EXTENSION_ENTRY,
    Frontend,
    FrontendRootError,
    official_frontend_root,
    pinned_versions,
    resolve_front_end_root,
)
from comfy_core.registry.custom_nodes import PluginReport

ROOT = Path(__file__).resolve().parents[2]
EDITOR = ROOT / "web"


def test_front_end_root_choices(tmp_path, monkeypatch):
    official = official_frontend_root()
    assert official is not None and (official / "index.html").is_file()
    assert resolve_front_end_root(None, EDITOR) == official
    monkeypatch.chdir(tmp_path)  # 'web' is also found beside the server, from anywhere
    assert resolve_front_end_root(Path("web"), EDITOR) == EDITOR.resolve()
    built = tmp_path / "built"
    built.mkdir()
    (built / "index.html").write_text("<!doctype html>")
    assert resolve_front_end_root(built, EDITOR) == built.resolve()
    with pytest.raises(FrontendRootError, match="no such folder"):
        resolve_front_end_root(tmp_path / "missing", EDITOR)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrontendRootError, match="has no index.html"):
        resolve_front_end_root(tmp_path / "empty", EDITOR)


def test_pinned_versions_read_requirements():
    pins = pinned_versions(ROOT / "requirements.txt")
    for name in ("comfyui-frontend-package", "comfyui-workflow-templates", "comfyui-embedded-docs"):
        assert pins[name], name


@pytest.fixture
def plugin(tmp_path):
    """A plugin folder with a web directory, locales and example workflows."""
    root = tmp_path / "custom_nodes" / "demo_pack"
    (root / "js").mkdir(parents=True)
    (root / "js" / "ext.js").write_text("export const x = 1;")
    (root / "example_workflows").mkdir()
    (root / "example_workflows" / "basic.json").write_text('{"nodes": []}')
    for lang, text in (("en", "Hello"), ("fr", "Bonjour")):
        (root / "locales" / lang).mkdir(parents=True)
        (root / "locales" / lang / "main.json").write_text(json.dumps({"greeting": text}))
    (root / "locales" / "en" / "nodeDefs.json").write_text('{"DemoNode": {"display_name": "Demo"}}')
    (root / "locales" / "en" / "settings.json").write_text("not json")
    return PluginReport(name="demo_pack", path=root, seconds=0.0, error=None,
                        web_dir=root / "js", node_names=())


@pytest.fixture
async def official(services, plugin, tmp_path, aiohttp_client):
    """The app serving the official frontend package, with one plugin and one more folder
    registered the nodes.EXTENSION_WEB_DIRS way."""
    registered = tmp_path / "registered_js"
    registered.mkdir()
    (registered / "reg.js").write_text("export const r = 1;")
    frontend = Frontend.discover(official_frontend_root(), EDITOR, ROOT / "requirements.txt")
    app = create_app(replace(services, plugins=(plugin,), frontend=frontend,
                             web_root=frontend.web_root,
                             web_dirs={"demo_pack": str(plugin.web_dir), "registered": str(registered)}))
    return await aiohttp_client(app)


async def test_index_and_extensions_of_the_official_frontend(official):
    page = await official.get("/")
    assert page.status == 200 and '<div id="vue-app">' in await page.text()
    urls = await (await official.get("/extensions")).json()
    assert "/extensions/core/widgetInputs.js" in urls  # the package's own web root files
    assert f"/extensions/comfy_core/{BUILTIN_EXTENSION_ENTRY}" in urls
    assert "/extensions/demo_pack/ext.js" in urls and "/extensions/registered/reg.js" in urls
    for url in ("/extensions/demo_pack/ext.js", "/extensions/registered/reg.js",
                f"/extensions/comfy_core/{BUILTIN_EXTENSION_ENTRY}",
                "/extensions/comfy_core/graph/default_workflow.js", "/scripts/app.js"):
        assert (await official.get(url)).status == 200, url
    assert (await official.get("/extensions/demo_pack/../../secret")).status == 404


async def test_templates_are_served_from_the_packages(official):
    resp = await official.get("/templates/index.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    index = await resp.json()
    names = [t["name"] for category in index for t in category["templates"]]
    assert "default" in names and len(names) > 100
    workflow = await (await official.get("/templates/default.json")).json()
    assert {"CheckpointLoaderSimple", "KSampler"} <= {n["type"] for n in workflow["nodes"]}
    thumb = await official.get("/templates/default-1.webp")
    assert thumb.status == 200 and (await thumb.read())[8:12] == b"WEBP"
    for missing in ("/templates/nope.json", "/templates/../requirements.txt",
                    "/templates/%2e%2e/requirements.txt"):
        assert (await official.get(missing)).status == 404, missing


def test_every_template_in_the_index_has_its_workflow_and_thumbnail():
    templates = Frontend.discover(None).templates
    index = json.loads(templates.path_for("index.json").read_text())
    missing = []
    for category in index:
        for entry in category["templates"]:
            name = entry["name"]
            if templates.path_for(f"{name}.json") is None:
                missing.append(f"{name}.json")
            subtype = entry.get("mediaSubtype", "webp")
            if entry.get("mediaType") == "image" and templates.path_for(f"{name}-1.{subtype}") is None:
                missing.append(f"{name}-1.{subtype}")
    assert not missing


async def test_node_docs_are_served_from_the_docs_package(official):
    resp = await official.get("/docs/KSampler/en.md")
    assert resp.status == 200 and "KSampler" in await resp.text()
    assert (await official.get("/docs/NoSuchNode/en.md")).status == 404
    assert (await official.get("/docs/../requirements.txt")).status == 404


async def test_plugin_example_workflows_and_translations(official):
    assert await (await official.get("/api/workflow_templates")).json() == {"demo_pack": ["basic"]}
    resp = await official.get("/api/workflow_templates/demo_pack/basic.json")
    assert resp.status == 200 and await resp.json() == {"nodes": []}
    assert (await official.get("/api/workflow_templates/demo_pack/../js/ext.js")).status == 404
    i18n = await (await official.get("/i18n")).json()
    assert i18n == {"en": {"greeting": "Hello", "nodeDefs": {"DemoNode": {"display_name": "Demo"}}},
                    "fr": {"greeting": "Bonjour"}}


async def test_internal_files_hide_dotfiles(client, services):
    (services.folders.input_dir / ".secret").write_text("x")
    (services.folders.input_dir / "cat.png").write_bytes(b"x")
    (services.folders.input_dir / "sub").mkdir()
    assert await (await client.get("/internal/files/input")).json() == ["cat.png [input]"]


async def test_newer_frontend_queries_answer(official):
    jobs = await official.get("/api/jobs?status=completed,failed,cancelled&limit=64&offset=0")
    assert jobs.status == 200 and (await jobs.json())["jobs"] == []
    stats = (await (await official.get("/system_stats")).json())["system"]
    pins = pinned_versions(ROOT / "requirements.txt")
    assert stats["required_frontend_version"] == pins["comfyui-frontend-package"]
    assert stats["required_templates_version"] == pins["comfyui-workflow-templates"]
    assert stats["installed_templates_version"] == pins["comfyui-workflow-templates"]


async def test_our_editor_gets_no_builtin_extension(services, aiohttp_client):
    frontend = Frontend.discover(EDITOR, EDITOR)
    client = await aiohttp_client(create_app(replace(services, web_root=EDITOR, frontend=frontend)))
    urls = await (await client.get("/extensions")).json()
    assert not any(url.startswith("/extensions/comfy_core/") for url in urls)
    assert "/extensions/core/undo.js" in urls


async def test_settings_and_userdata_are_per_user(client, services):
    """The frontend sends its user as Comfy-User (multi-user mode); without it, 'default'."""
    bob = {"Comfy-User": "bob"}
    assert (await client.post("/api/settings/Comfy.Graph.CanvasInfo", json=False, headers=bob)).status == 200
    assert (await client.post("/api/userdata/workflows%2Fmine.json", data=b"{}", headers=bob)).status == 200
    assert await (await client.get("/api/settings", headers=bob)).json() == {"Comfy.Graph.CanvasInfo": False}
    assert await (await client.get("/api/settings")).json() == {}
    assert (await client.get("/api/userdata/workflows%2Fmine.json")).status == 404
    stored = json.loads((services.folders.user_dir / "bob" / "comfy.settings.json").read_text())
    assert stored == {"Comfy.Graph.CanvasInfo": False}
    assert (services.folders.user_dir / "bob" / "workflows" / "mine.json").is_file()
