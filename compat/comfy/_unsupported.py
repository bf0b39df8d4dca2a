"""Names of ComfyUI's building blocks for model families this server does not run (video
UNet blocks, ...). Packs import them at module level next to the SD1.x/SDXL pieces they
do use, so they exist; building one raises an error naming what is not supported, and no
model here is an instance of them."""

from __future__ import annotations

from typing import Any


def unsupported_class(name: str, what: str, module: str) -> type:
    """A class named `name` whose construction raises NotImplementedError naming `what`."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{name} ({what}) is not supported by this server: it runs "
                                  "SD1.x, SD2.x and SDXL models")

    return type(name, (), {"__init__": __init__, "__module__": module,
                           "__doc__": f"ComfyUI's {name} ({what}); not supported here."})


def unsupported_function(name: str, what: str, module: str) -> Any:
    """A function named `name` that raises NotImplementedError naming `what` when called."""

    def function(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{module}.{name} ({what}) is not supported by this server: it runs "
                                  "SD1.x, SD2.x and SDXL models")

    function.__name__ = function.__qualname__ = name
    function.__module__ = module
    function.__doc__ = f"ComfyUI's {name} ({what}); not supported here."
    return function
