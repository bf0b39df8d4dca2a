"""Finishing an awaitable from synchronous code (async node methods, plugin entry points)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def resolve_awaitable(value: Any) -> Any:
    """Run an async node's coroutine to completion in this thread (or a helper thread
    when this thread already runs an event loop)."""
    if not inspect.isawaitable(value):
        return value

    async def wait() -> Any:
        return await value

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    ctx = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(ctx.run, asyncio.run, wait()).result()
