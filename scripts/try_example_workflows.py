"""Try shared example workflows as a user would, headless, with tiny stand-in models.

    .venv/bin/python scripts/try_example_workflows.py EXAMPLES_DIR [--work DIR] [--only TEXT]

Every PNG, WebP and JSON file under EXAMPLES_DIR that carries a UI workflow is tried: the
workflow is converted to an API prompt with the converter `python -m comfy_core run` uses,
examples whose model files belong to another model family (Flux, SD3, video, ...) are
listed as out of scope (a graph without an SD checkpoint loader too, unless it loads a Lotus
UNet), the rest get tiny random stand-ins for every model file they name
(comfy_core/tools/stand_ins.py), pictures their LoadImage nodes name (the file of that name
under EXAMPLES_DIR, shrunk, or a generated one), sizes divided by 8 and at most --steps
steps; then the prompt is validated and run. A table goes to stdout: per example whether
it converts (and whether the prompt equals the one saved beside the workflow, where the
file has one), validates and runs, and the first error and warning. Nothing is written
outside --work (a temporary folder unless given).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from comfy_core.files import FolderPaths  # noqa: E402
from comfy_core.graph.validate import validate_prompt  # noqa: E402
from comfy_core.graph.workflow_convert import WorkflowError, workflow_to_prompt  # noqa: E402
from comfy_core.images.embedded import GRAPH_SUFFIXES, read_graphs  # noqa: E402
from comfy_core.runtime import AppContext, use_app  # noqa: E402
from comfy_core.services import build_executor, build_memory, build_registry  # noqa: E402
from comfy_core.settings import parse_settings  # noqa: E402
from comfy_core.tools import stand_ins  # noqa: E402
from comfy_core.tools.shrink_prompt import shrink  # noqa: E402

log = logging.getLogger("try_example_workflows")

# Model file names of families this project does not run; the first family any of a
# workflow's names matches is the one shown (the shared encoders and VAEs come last).
OTHER_FAMILIES = (
    ("Flux", r"flux"), ("Chroma", r"chroma"), ("SD3", r"sd3"), ("Stable Cascade", r"stable_cascade"),
    ("AuraFlow", r"aura_flow"), ("HiDream", r"hidream"), ("Hunyuan", r"hunyuan"), ("LTX-Video", r"ltx"),
    ("Mochi", r"mochi"), ("Cosmos", r"cosmos"), ("Lumina", r"lumina"), ("OmniGen", r"omnigen"),
    ("Z-Image", r"z_image"), ("Qwen-Image", r"qwen_image"), ("Wan", r"wan2|wan_2"),
    ("Stable Video Diffusion", r"^svd"), ("Stable Zero123", r"zero123"), ("ACE-Step", r"ace_step"),
    ("Stable Audio", r"stable.audio"), ("T5/LLM text encoders", r"t5xxl|umt5|llama|qwen|mistral"),
    ("Flux-style VAE", r"^ae\.safetensors$"),
)
MODEL_FILE = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf|sft)$", re.I)
SD_LOADERS = {"CheckpointLoaderSimple", "CheckpointLoader", "unCLIPCheckpointLoader"}
SEED_INPUTS = {"seed", "noise_seed"}
PICTURE_SIDE = 96  # longest side of the pictures LoadImage nodes get


@dataclass
class Row:
    example: str
    family: str = ""
    converts: str = "-"
    as_saved: str = "-"
    validates: str = "-"
    runs: str = "-"
    error: str = ""
    warning: str = ""


def find_examples(folder: Path) -> list[tuple[Path, dict | None]]:
    """(file, UI workflow) of every file under `folder` that carries a graph."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in GRAPH_SUFFIXES and p.is_file()):
        prompt, workflow = read_graphs(path)
        if workflow is not None or prompt is not None:
            found.append((path, workflow))
    return found


def _all_nodes(workflow: dict) -> list[dict]:
    graphs = [workflow, *((workflow.get("definitions") or {}).get("subgraphs") or [])]
    return [n for g in graphs for n in g.get("nodes") or [] if isinstance(n, dict)]


def model_names(workflow: dict) -> set[str]:
    return {v for n in _all_nodes(workflow) for v in n.get("widgets_values") or []
            if isinstance(v, str) and MODEL_FILE.search(v)}


def scope(workflow: dict) -> tuple[str, str]:
    """(family shown in the table, reason it is out of scope or '')."""
    names = sorted(model_names(workflow))
    for family, pattern in OTHER_FAMILIES:
        for name in names:
            if re.search(pattern, Path(name).name, re.I):
                return family, f"out of scope: {family} ({name})"
    loaders = [n for n in _all_nodes(workflow) if n.get("type") in SD_LOADERS]
    if not loaders and any(stand_ins.LOTUS_NAME.search(v) for n in _all_nodes(workflow) if n.get("type") == "UNETLoader"
                           for v in n.get("widgets_values") or [] if isinstance(v, str)):
        return "lotus", ""  # Lotus-D: an SD2-derived UNet loaded on its own
    if not loaders:
        return "?", "out of scope: no SD checkpoint loader"
    names = [v for n in loaders for v in n.get("widgets_values") or [] if isinstance(v, str) and MODEL_FILE.search(v)]
    return stand_ins.main_family(names), ""


def differences(saved: dict, ours: dict) -> list[str]:
    """Where our conversion differs from the API prompt saved beside the workflow (what the
    editor that saved it queued). Not counted: seeds (the saved prompt was queued before
    the seed control moved the widget), inputs the saved prompt lacks (added to the node
    since: ours take their defaults) and the upload-button entry older editors sent."""
    found = []
    for node_id in sorted(set(saved) | set(ours)):
        a, b = saved.get(node_id), ours.get(node_id)
        if not isinstance(a, dict) or not isinstance(b, dict) or a.get("class_type") != b.get("class_type"):
            found.append(f"node {node_id}: {(a or {}).get('class_type')} saved, {(b or {}).get('class_type')} ours")
            continue
        mine = b.get("inputs") or {}
        for key, value in (a.get("inputs") or {}).items():
            if key in SEED_INPUTS or (key not in mine and value == "image"):
                continue
            if mine.get(key, "<none>") != value:
                found.append(f"#{node_id}.{key}: {str(value)[:40]!r} saved, {str(mine.get(key, '<none>'))[:40]!r} ours")
    return found


def provide_pictures(prompt: dict, examples: Path, input_dir: Path) -> None:
    """Each picture a LoadImage / LoadImageMask names: the file of that name under the
    examples folder, shrunk; else a generated one with a transparent square (a mask)."""
    for node in prompt.values():
        name = (node.get("inputs") or {}).get("image")
        if node.get("class_type") not in ("LoadImage", "LoadImageMask") or not isinstance(name, str):
            continue
        out = input_dir / name
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        source = next((p for p in examples.rglob(Path(name).name) if p.is_file()), None)
        if source is not None:
            with Image.open(source) as picture:
                picture.thumbnail((PICTURE_SIDE, PICTURE_SIDE))
                picture.save(out)
        else:
            picture = Image.new("RGBA", (PICTURE_SIDE, PICTURE_SIDE), (90, 140, 200, 255))
            picture.paste((0, 0, 0, 0), (24, 24, 72, 72))
            picture.save(out)


def _first_node_error(node_errors: dict) -> str:
    for node_id, entry in node_errors.items():
        for err in entry.get("errors") or []:
            return f"#{node_id} {entry.get('class_type')}: {err.get('message')}: {err.get('details')}"
    return ""


class _FirstWarning(logging.Handler):
    """Keeps the first WARNING-or-worse message logged while attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        if not self.first and record.name != log.name:
            self.first = f"{record.name}: {record.getMessage()}"


class Trial:
    """One scratch base folder, registry and memory manager shared by all examples."""

    def __init__(self, work: Path, examples: Path, steps: int) -> None:
        self.settings = parse_settings(["--base-directory", str(work), "--cpu"], {})
        self.folders = FolderPaths.from_settings(self.settings)
        for d in (self.folders.input_dir, self.folders.output_dir, self.folders.temp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.work, self.models = work, work / "models"
        self.examples, self.steps = examples, steps
        memory, _ = build_memory(self.settings)
        self.app = AppContext(folders=self.folders, settings=self.settings, memory=memory)
        with use_app(self.app):
            self.registry, _, _ = build_registry(self.settings, self.folders, memory=memory)

    def try_guarded(self, path: Path, workflow: dict | None) -> Row:
        """try_one, noting the first warning logged meanwhile; an exception escaping the
        engine is itself a finding (a crash)."""
        warnings = _FirstWarning()
        logging.getLogger().addHandler(warnings)
        try:
            row = self.try_one(path, workflow)
        except Exception as exc:  # noqa: BLE001 - reported in the table, the next example runs
            log.exception("%s crashed", path)
            row = Row(str(path.relative_to(self.examples)), "?", error=f"crash: {type(exc).__name__}: {exc}")
        finally:
            logging.getLogger().removeHandler(warnings)
        row.warning = warnings.first
        return row

    def try_one(self, path: Path, workflow: dict | None) -> Row:
        row = Row(str(path.relative_to(self.examples)))
        if workflow is None:
            row.error = "carries an API prompt only (no UI workflow)"
            return row
        row.family, reason = scope(workflow)
        if reason:
            row.error = reason
            return row
        with use_app(self.app):
            try:
                info = self.registry.object_info()
                prompt = workflow_to_prompt(workflow, info)
            except WorkflowError as exc:
                row.converts, row.error = "no", f"conversion: {exc}"
                return row
            row.converts = "yes"
            saved, _ = read_graphs(path)
            if saved is not None:
                found = differences(saved, prompt)
                row.as_saved = f"{len(found)} differ: {found[0]}" if found else "same"
            try:
                self._prepare(prompt, info)
            except (stand_ins.StandInError, OSError, ValueError) as exc:
                row.error = f"stand-in: {exc}"
                return row
            saved = self.work / "prompts" / Path(row.example).with_suffix(".json")
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(prompt, indent=1))  # what ran, to re-run by hand
            return self._validate_and_run(prompt, workflow, row)

    def _prepare(self, prompt: dict, object_info: dict) -> None:
        entries = stand_ins.plan(prompt)
        stand_ins.write_stand_ins(entries, self.models)
        family = entries[0].family if entries else "sd15"
        stand_ins.write_embeddings(stand_ins.embedding_names(prompt), self.models, family)
        stand_ins.substitute(prompt, entries)
        shrink(prompt, self.steps, object_info)
        provide_pictures(prompt, self.examples, self.folders.input_dir)

    def _validate_and_run(self, prompt: dict, workflow: dict, row: Row) -> Row:
        check = validate_prompt(self.registry, prompt)
        if not check.ok:
            row.validates = "no"
            row.error = _first_node_error(check.node_errors) or \
                f"{check.error.get('message')} {check.error.get('details')}"
            return row
        row.validates = "yes"
        executor = build_executor(self.registry, self.settings)
        result = executor.run(check.prompt or prompt, uuid.uuid4().hex, {"extra_pnginfo": {"workflow": workflow}},
                              check.outputs, lambda event: None, threading.Event())
        if result.status_str == "success":
            row.runs = "yes"
        else:
            err = result.error or {}
            row.runs = "no"
            row.error = f"#{err.get('node_id')} {err.get('node_type')}: {err.get('exception_type')}: " \
                        f"{err.get('exception_message')}".strip()
        return row


def render(rows: list[Row]) -> str:
    """A Markdown table of the rows and a summary line."""
    lines = ["| example | family | converts | as saved | validates | runs | first error | first warning |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        saved, error, warning = (text.replace("|", "\\|").replace("\n", " ")[:300]
                                 for text in (r.as_saved, r.error, r.warning))
        lines.append(f"| {r.example} | {r.family} | {r.converts} | {saved} | {r.validates} | {r.runs} | {error} "
                     f"| {warning} |")
    tried = [r for r in rows if r.converts != "-" or r.error.startswith(("conversion", "stand-in"))]
    lines.append(f"\n{len(rows)} files with a workflow; {len(tried)} SD1.x/SD2.x/SDXL examples tried: "
                 f"{sum(r.converts == 'yes' for r in tried)} convert ({sum(r.as_saved == 'same' for r in tried)} "
                 f"as the editor that saved them queued them), {sum(r.validates == 'yes' for r in tried)} "
                 f"validate, {sum(r.runs == 'yes' for r in tried)} run")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", type=Path, help="folder of example files (searched recursively)")
    parser.add_argument("--work", type=Path, help="scratch base folder (default: a temporary one)")
    parser.add_argument("--only", default="", help="try only examples whose path contains this text")
    parser.add_argument("--steps", type=int, default=3, help="most sampling steps per sampler (3)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.ERROR)  # warnings reach the table, not stderr
    examples = args.examples.resolve()
    with tempfile.TemporaryDirectory(prefix="try-examples-") as tmp:
        trial = Trial((args.work or Path(tmp)).resolve(), examples, args.steps)
        rows = []
        for path, workflow in find_examples(examples):
            if args.only in str(path.relative_to(examples)):
                rows.append(trial.try_guarded(path, workflow))
                log.info("%s", rows[-1])
    sys.stdout.write(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
