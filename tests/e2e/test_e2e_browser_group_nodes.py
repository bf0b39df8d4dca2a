"""A workflow saved with legacy group nodes opens in Chromium: each group instance becomes a
subgraph instance, and the prompt the editor queues is the one ComfyUI's editor sends for
the file (shared fixture with the converter tests), the missing grow_mask_by included."""

from __future__ import annotations

import json

import pytest
from e2e_server import CHROMIUM, ROOT
from test_e2e_browser_editor import Editor, editor, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
FIXTURES = ROOT / "tests" / "web" / "fixtures"


def test_legacy_group_nodes_open_as_subgraphs_and_queue_comfyuis_prompt(editor):  # noqa: F811 (fixture)
    workflow = json.loads((FIXTURES / "group_node_workflow.json").read_text())
    expected = json.loads((FIXTURES / "group_node_prompt.json").read_text())
    editor.js("(wf) => window.comfyApp.loadWorkflow(wf, {quiet: true})", workflow)
    instances = editor.js("() => window.comfyApp.graph._nodes.filter((n) => n.isSubgraphNode?.())"
                          ".map((n) => [n.id, n.title])")
    assert instances == [[10, "Prompts"], [20, "Sample and decode"]]
    prompt = editor.js("window.comfyApp.graphToPrompt().prompt")
    assert prompt == expected
    editor.shot("group_nodes_loaded")
    # the fixture's LoadImage names an image this server's input folder does not hold
    missing = (404, "/api/view?filename=example.png&subfolder=&type=input&preview=webp%3B90")
    assert editor.unexpected_problems(missing) == []
