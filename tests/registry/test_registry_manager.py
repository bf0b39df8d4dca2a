"""--enable-manager without the comfyui-manager package: a warning naming the install
command, no manager, the server carries on; the manager's skip rule guards the loader."""

import logging
import sys
from pathlib import Path

from comfy_core.registry.custom_nodes import LoadContext, load_custom_nodes
from comfy_core.registry.manager import load_manager, skip_rule
from comfy_core.registry import NodeRegistry
from comfy_core.settings import parse_settings


def test_enable_manager_without_the_package_warns(caplog):
    settings = parse_settings(["--enable-manager"], {})
    assert load_manager(parse_settings([], {})) is None
    with caplog.at_level(logging.WARNING):
        assert load_manager(settings) is None
    assert f"{sys.executable} -m pip install comfyui-manager" in caplog.text


def test_skip_rule_keeps_packs_out(tmp_path):
    class Manager:
        @staticmethod
        def should_be_disabled(path: str) -> bool:
            if path.endswith("broken_rule"):
                raise RuntimeError("rule failed")
            return "comfyui-manager" in Path(path).name.lower()

    for name in ("ComfyUI-Manager", "kept", "broken_rule"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("NODE_CLASS_MAPPINGS = {}\n")
    context = LoadContext(NodeRegistry(), skip=skip_rule(Manager))
    reports = load_custom_nodes(context.registry, [tmp_path], context=context)
    assert sorted(r.name for r in reports) == ["broken_rule", "kept"]
