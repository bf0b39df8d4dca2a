"""Which widgets a node shows, in which order, and what they hold before anyone edits them
(COMPAT 3.3): the layout `widgets_values` is positional over.

Widgets are the node's widget-type inputs (INT, FLOAT, STRING, BOOLEAN, combos) that are
not `forceInput`, required then optional, each in input order; an INT or combo with
`control_after_generate` (and any INT named seed or noise_seed) is followed by its control
entry, a combo with `image_upload` by its upload button. A V3 dynamic combo
(COMFY_DYNAMICCOMBO_V3) is a combo whose chosen option brings its own inputs: their widgets
follow the combo's entry, named "<combo>.<input>", so the layout of a saved node depends on
the value it saved for the combo. A combo whose choices come from a server route (`remote`)
is followed by the frontend's auto-refresh toggle, then, with `refresh_button`, by the
refresh button, whose value ("refresh") the frontend sends in the prompt under the button's
name. web/graph/widget_values.js is the editor's copy of these rules.
"""

from __future__ import annotations

from typing import Any, Iterator

DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3"
WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", DYNAMIC_COMBO})
SEED_NAMES = ("seed", "noise_seed")
# The kind of the refresh button entry after a remote combo: not an input of the node, but
# the frontend sends its value ("refresh") with the inputs, so the layout names it.
REFRESH_BUTTON = "REFRESH_BUTTON"
REFRESH_NAME = "refresh"
CONTROLLED_KINDS = ("INT", "COMBO")


class WorkflowError(ValueError):
    """The workflow cannot be converted; the message names the node and what is wrong."""


def spec_kind(spec: Any) -> str | None:
    """"COMBO" for a legacy list combo, else the spec's type name (None when malformed)."""
    if not isinstance(spec, (list, tuple)) or not spec:
        return None
    return "COMBO" if isinstance(spec[0], (list, tuple)) else str(spec[0])


def spec_options(spec: Any) -> dict:
    if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict):
        return spec[1]
    return {}


def is_widget_spec(spec: Any, include_force_input: bool = False) -> bool:
    """Whether an input spec makes a widget (rather than a plain socket)."""
    forced = bool(spec_options(spec).get("forceInput"))
    return spec_kind(spec) in WIDGET_TYPES and (not forced or include_force_input)


def input_specs(info: dict) -> dict[str, Any]:
    """{name: spec} of the required then optional inputs of an /object_info entry, in
    input order."""
    inputs = info.get("input") or {}
    out: dict[str, Any] = {}
    for section in ("required", "optional"):
        specs = inputs.get(section) or {}
        for name in (info.get("input_order") or {}).get(section, list(specs)):
            if name in specs and name not in out:
                out[name] = specs[name]
    return out


def widget_specs(info: dict, include_force_input: bool = False
                 ) -> Iterator[tuple[str, str, dict]]:
    """(name, kind, options) of every widget input of a node, in input order."""
    for name, spec in input_specs(info).items():
        if is_widget_spec(spec, include_force_input):
            yield name, str(spec_kind(spec)), spec_options(spec)


def has_control(name: str, kind: str, options: dict) -> bool:
    """Whether the widget is followed by a value-control entry ("fixed", "randomize", ...)."""
    if options.get("control_after_generate"):
        return kind in CONTROLLED_KINDS
    return kind == "INT" and name in SEED_NAMES


def dynamic_choices(spec: Any) -> dict[Any, dict[str, Any]]:
    """{option key: {sub-input name: spec}} of a dynamic combo (required then optional)."""
    choices: dict[Any, dict[str, Any]] = {}
    for option in spec_options(spec).get("options") or []:
        if not isinstance(option, dict) or "key" not in option:
            continue
        sections = option.get("inputs") if isinstance(option.get("inputs"), dict) else {}
        specs: dict[str, Any] = {}
        for section in ("required", "optional"):
            if isinstance(sections.get(section), dict):
                specs.update(sections[section])
        choices[option["key"]] = specs
    return choices


def _chosen(values: Any, name: str, index: int) -> Any:
    """The saved value of widget `name` at position `index`, or None when not saved."""
    if isinstance(values, dict):
        return values.get(name)
    if isinstance(values, list) and index < len(values):
        return values[index]
    return None


def _layout(specs: dict[str, Any], prefix: str, values: Any, include_force_input: bool,
            out: list[tuple[str | None, Any]]) -> None:
    for name, spec in specs.items():
        if not is_widget_spec(spec, include_force_input):
            continue
        kind, opts = str(spec_kind(spec)), spec_options(spec)
        full = prefix + name
        out.append((full, spec))
        chosen = _chosen(values, full, len(out) - 1)
        if has_control(name, kind, opts):
            out.append((None, None))
        if kind == "COMBO" and isinstance(opts.get("remote"), dict):
            _remote_entries(opts["remote"], out)
        if opts.get("image_upload"):
            out.append((None, None))
        if kind == DYNAMIC_COMBO:
            choices = dynamic_choices(spec)
            key = chosen if chosen in choices else default_value(spec)
            _layout(choices.get(key, {}), full + ".", values, include_force_input, out)


def _remote_entries(remote: dict, out: list[tuple[str | None, Any]]) -> None:
    """The auto-refresh toggle (editor-only) and the refresh button (named "refresh",
    "refresh#1", ... as the frontend names repeated widgets) after a remote combo."""
    out.append((None, None))
    if remote.get("refresh_button"):
        count = sum(1 for _, spec in out if spec_kind(spec) == REFRESH_BUTTON)
        name = f"{REFRESH_NAME}#{count}" if count else REFRESH_NAME
        out.append((name, (REFRESH_BUTTON, {"default": REFRESH_NAME})))


def widget_layout(info: dict, values: Any = None, include_force_input: bool = False
                  ) -> list[tuple[str | None, Any]]:
    """(name, spec) of each widgets_values position of a node, None for editor-only
    entries. `values` (a saved widgets_values list or dict) picks each dynamic combo's
    option, hence the widgets after it; without it they show their defaults."""
    out: list[tuple[str | None, Any]] = []
    _layout(input_specs(info), "", values, include_force_input, out)
    return out


def widget_slots(info: dict, include_force_input: bool = False, values: Any = None
                 ) -> list[str | None]:
    """Names of the widgets_values positions of a node; None marks an editor-only entry.
    `include_force_input` gives the layout of legacy files that stored forceInput inputs."""
    return [name for name, _ in widget_layout(info, values, include_force_input)]


def default_value(spec: Any) -> Any:
    """What a fresh widget holds: its `default`, else the first choice, else the smallest
    allowed number (at least 0), False or an empty text, as the editor does."""
    kind, options = spec_kind(spec), spec_options(spec)
    if "default" in options:
        return options["default"]
    if kind == DYNAMIC_COMBO:
        return next(iter(dynamic_choices(spec)), "")
    if kind == "COMBO":
        choices = spec[0] if isinstance(spec[0], (list, tuple)) else options.get("options") or []
        return choices[0] if choices else ""
    if kind in ("INT", "FLOAT"):
        low = options.get("min")
        return max(0, low) if isinstance(low, (int, float)) else 0
    return False if kind == "BOOLEAN" else ""
