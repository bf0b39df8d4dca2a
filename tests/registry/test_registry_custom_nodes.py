import logging
import sys
from pathlib import Path

from comfy_core.registry import NodeRegistry, load_custom_nodes

NODE_SOURCE = '''
class {name}:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {{"required": {{}}}}

    def run(self):
        return ({value},)
'''


def write_plugins(root: Path) -> None:
    (root / "good_module.py").write_text(
        NODE_SOURCE.format(name="GoodModuleNode", value=1)
        + "NODE_CLASS_MAPPINGS = {'GoodModuleNode': GoodModuleNode}\n")
    pkg = root / "good_package"
    (pkg / "js").mkdir(parents=True)
    (pkg / "js" / "ext.js").write_text("// extension\n")
    (pkg / "impl.py").write_text(NODE_SOURCE.format(name="PackageNode", value=2))
    (pkg / "__init__.py").write_text(
        "from .impl import PackageNode\n"
        "NODE_CLASS_MAPPINGS = {'PackageNode': PackageNode, 'CoreNode': PackageNode}\n"
        "NODE_DISPLAY_NAME_MAPPINGS = {'PackageNode': 'Package Node'}\n"
        "WEB_DIRECTORY = './js'\n")
    (root / "broken.py").write_text("raise RuntimeError('plugin exploded')\n")
    (root / "no_mappings.py").write_text("X = 1\n")
    (root / "off.py.disabled").write_text("raise SystemExit('must not load')\n")
    disabled_pkg = root / "off_pkg.disabled"
    disabled_pkg.mkdir()
    (disabled_pkg / "__init__.py").write_text("raise SystemExit('must not load')\n")
    (root / "notes.txt").write_text("not a plugin")


class CoreNode:
    RETURN_TYPES = ()
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def run(self):
        return ()


def test_loader_reports_each_plugin(tmp_path, caplog):
    write_plugins(tmp_path)
    reg = NodeRegistry()
    reg.register("CoreNode", CoreNode)
    path_before = list(sys.path)
    with caplog.at_level(logging.INFO):
        reports = {r.name: r for r in load_custom_nodes(reg, [tmp_path])}
    assert sys.path == path_before
    assert sorted(reports) == ["broken", "good_module", "good_package", "no_mappings"]
    assert reports["good_module"].error is None
    assert reports["good_module"].node_names == ("GoodModuleNode",)
    pkg = reports["good_package"]
    assert pkg.error is None and pkg.node_names == ("PackageNode",)
    assert pkg.web_dir == (tmp_path / "good_package" / "js").resolve()
    assert "plugin exploded" in reports["broken"].error
    assert "Traceback" in reports["broken"].error
    assert reports["no_mappings"].error is not None
    assert all(r.seconds >= 0 for r in reports.values())
    assert reg.get("CoreNode").cls is CoreNode
    info = reg.object_info()
    assert info["PackageNode"]["display_name"] == "Package Node"
    assert info["PackageNode"]["python_module"] == "custom_nodes.good_package"
    assert "(IMPORT FAILED)" in caplog.text


def test_disable_all_with_allow_list(tmp_path):
    write_plugins(tmp_path)
    reg = NodeRegistry()
    reports = load_custom_nodes(reg, [tmp_path], disable_all=True, allow=frozenset({"good_package"}))
    assert [r.name for r in reports] == ["good_package"]
    assert reg.names() == ["PackageNode", "CoreNode"]
    assert load_custom_nodes(NodeRegistry(), [tmp_path], disable_all=True) == []


def test_example_plugin_ships_a_node_and_web_directory():
    root = Path(__file__).resolve().parents[2] / "custom_nodes"
    reg = NodeRegistry()
    reports = load_custom_nodes(reg, [root], disable_all=True, allow=frozenset({"example_plugin"}))
    assert len(reports) == 1 and reports[0].error is None, reports
    assert (reports[0].web_dir / "example_plugin.js").is_file()
    schema = reg.get("ExampleRepeatText")
    assert schema.cls().repeat("ab", 3, "-") == ("ab-ab-ab",)


V3_PLUGIN = '''
from comfy_core.registry.v3 import ComfyExtension, io


class EntryNode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema("EntryNode", outputs=[io.Int.Output()])

    @classmethod
    def execute(cls):
        return io.NodeOutput(7)


class Ext(ComfyExtension):
    async def get_node_list(self):
        return [EntryNode]


def comfy_entrypoint():
    return {result}
'''


def test_comfy_entrypoint_plugins(tmp_path):
    (tmp_path / "v3_ok.py").write_text(V3_PLUGIN.format(result="Ext()"))
    (tmp_path / "v3_wrong.py").write_text(V3_PLUGIN.format(result="[EntryNode]"))
    (tmp_path / "v3_both.py").write_text(V3_PLUGIN.format(result="Ext()").replace(
        "EntryNode", "BothNode") + "NODE_CLASS_MAPPINGS = {'Mapped': BothNode}\n")
    registry = NodeRegistry()
    reports = {r.name: r for r in load_custom_nodes(registry, [tmp_path])}
    assert reports["v3_ok"].error is None and reports["v3_ok"].node_names == ("EntryNode",)
    assert registry.get("EntryNode").python_module == "custom_nodes.v3_ok"
    assert "must return a ComfyExtension instance, got list" in reports["v3_wrong"].error
    assert reports["v3_both"].node_names == ("Mapped",)  # NODE_CLASS_MAPPINGS wins
