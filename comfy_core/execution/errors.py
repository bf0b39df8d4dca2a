"""execution_error / execution_interrupted payloads (COMPAT 2.3 and 4.6)."""

from __future__ import annotations

import traceback
from typing import Any

from comfy_core.graph.validate import full_type_name

OOM_TIP = ("The device ran out of memory. Try a smaller image or batch size, or start the "
           "server with a lower-VRAM mode.")


def format_value(value: Any) -> Any:
    """JSON scalars stay as they are; anything else (tensors, models) becomes its str()."""
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def format_inputs(values: dict[str, list] | None) -> dict[str, list]:
    if not values:
        return {}
    return {name: [format_value(v) for v in vals] for name, vals in values.items()}


def _is_out_of_memory(exc: BaseException) -> bool:
    # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError, matched by name: the engine
    # must not import torch.
    return any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__)


def error_payload(prompt_id: str, node_id: str | None, node_type: str | None, exc: BaseException,
                  *, executed: list[str], inputs: dict[str, list] | None, outputs: list[str],
                  timestamp: int, hint: str | None = None) -> dict:
    """The execution_error data; exception_message is "<str(exc)>\\n<tips>" as in ComfyUI.
    `hint` is what the registry knows of the node's pack (an import it caught at load)."""
    tips = OOM_TIP if _is_out_of_memory(exc) else ""
    if hint and isinstance(exc, (NameError, ImportError, AttributeError)):
        tips = f"This node's pack loaded with an import failure it caught: {hint}"
    return {"prompt_id": prompt_id, "node_id": node_id, "node_type": node_type,
            "executed": list(executed), "exception_message": f"{exc}\n{tips}",
            "exception_type": full_type_name(type(exc)),
            "traceback": traceback.format_tb(exc.__traceback__),
            "current_inputs": format_inputs(inputs), "current_outputs": list(outputs),
            "timestamp": timestamp}


def blocked_payload(prompt_id: str, node_id: str, node_type: str, message: str,
                    executed: list[str]) -> dict:
    """An ExecutionBlocker with a message stopped this node; the prompt carries on."""
    return {"prompt_id": prompt_id, "node_id": node_id, "node_type": node_type,
            "executed": list(executed), "exception_message": f"Execution Blocked: {message}",
            "exception_type": "ExecutionBlocked", "traceback": [], "current_inputs": [],
            "current_outputs": []}


def interrupted_payload(prompt_id: str, node_id: str | None, node_type: str | None,
                        executed: list[str], timestamp: int) -> dict:
    return {"prompt_id": prompt_id, "node_id": node_id, "node_type": node_type,
            "executed": list(executed), "timestamp": timestamp}
