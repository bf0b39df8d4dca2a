"""The app's start-up state: one mutable holder put in the app at creation.

aiohttp freezes an application once it starts, so nothing is assigned to app keys later;
instead `AppState` receives the app context and the worker when the Services being built
on the start-up thread are ready. Routes reach the Services through `services_of`.
"""

from __future__ import annotations

import logging
from typing import Callable

from aiohttp import web

from comfy_core.api.frontend import Frontend
from comfy_core.jobs.worker import FreeRequest, Worker
from comfy_core.runtime import AppContext
from comfy_core.services import BaseServices, Services, Startup

log = logging.getLogger(__name__)


class WorkerSlot:
    """`app[WORKER]`: the job worker once the Services are built (None before). It starts
    when the start-up follow-ups are done; `stop` before that means it never starts."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.stopped = False
        self.started = False

    def start(self) -> None:
        if self.worker is not None and not self.stopped and not self.started:
            self.started = True
            self.worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped = True
        if self.worker is not None:
            self.worker.stop(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        return self.worker.interrupt(prompt_id) if self.worker is not None else False

    def request_free(self, request: FreeRequest) -> None:
        """Applied by the worker between jobs (kept until it starts)."""
        if self.worker is not None:
            self.worker.request_free(request)


class AppState:
    """The Startup, and what the app makes from its Services once built (on the loop)."""

    def __init__(self, startup: Startup, make_worker: Callable[[Services, AppContext], Worker]
                 ) -> None:
        self.startup = startup
        base = startup.base
        self.frontend: Frontend = base.frontend or Frontend(web_root=base.web_root)
        self.worker = WorkerSlot()
        self.context: AppContext | None = None
        self._make_worker = make_worker

    @property
    def base(self) -> BaseServices:
        return self.startup.base

    @property
    def ready(self) -> bool:
        """Whether the Services are built and attached (the worker made)."""
        return self.context is not None

    def services(self) -> Services:
        """The built Services; only valid once `ready` (the start-up middleware awaits it)."""
        if self.context is None:
            raise RuntimeError("the services are still loading: await AppState.wait() first")
        return self.startup.result(timeout=0)

    async def wait(self) -> AppContext:
        """The app context once the Services are built; re-raises the build's error."""
        if self.context is None:
            self.attach(await self.startup.wait())
        assert self.context is not None
        return self.context

    def attach(self, services: Services) -> None:
        """Once, on the loop: recover crashed jobs, then make the worker (started by
        `start_worker`)."""
        if self.context is not None:
            return
        context = AppContext(folders=services.folders, settings=services.settings,
                             memory=services.memory)
        if services.cluster is not None:  # a lost worker's job is re-run once more
            recovered = services.cluster.recover(services.store)
        else:
            recovered = services.store.recover(requeue=services.settings.requeue_running)
        for prompt_id, action in recovered:
            log.info("recovered job %s: %s", prompt_id, action)
        self.context = context
        self.worker.worker = self._make_worker(services, context)

    async def start_worker(self) -> None:
        """Attach and start the worker once the build is over (never when it failed: that
        is logged, and requests get a 503)."""
        try:
            await self.wait()
        except Exception:
            return
        self.worker.start()


STATE = web.AppKey("state", AppState)


def state_of(request: web.Request) -> AppState:
    return request.config_dict[STATE]


def services_of(request: web.Request) -> Services:
    """The built Services for a route handler (sub-applications included)."""
    return request.config_dict[STATE].services()


def frontend_of(request: web.Request) -> Frontend:
    """The served frontend and the template and docs packages (available while loading)."""
    return request.config_dict[STATE].frontend


def base_of(request: web.Request) -> BaseServices:
    """Settings, folders, store, web root and logs: available while the nodes load."""
    return request.config_dict[STATE].base
