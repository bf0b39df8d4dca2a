"""Start the server: flags -> Settings -> Services -> aiohttp app -> run.

The port binds at once: the nodes (and torch) load on one start-up thread while the editor's
static files are served; API requests wait for them.

Custom-node packs import this module as ComfyUI's `server` (`from server import
PromptServer, BinaryEventTypes`): those names are re-exported here. When this file runs as
the program it is also registered as `server`, so a pack's import finds this very module
(and the one PromptServer.instance) instead of loading a second copy.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import sys
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from comfy_core.api import create_app
from comfy_core.api.frontend import Frontend, FrontendRootError, resolve_front_end_root
from comfy_core.api.logbuffer import LogBuffer
from comfy_core.api.plugin_server import BinaryEventTypes, PromptServer
from comfy_core.api.security import check_can_listen
from comfy_core.files import FolderPaths
from comfy_core.jobs import StoreUnavailableError
from comfy_core.jobs.integrity import DamagedStoreError
from comfy_core.jobs.lock import StoreLockedError
from comfy_core.registry.manager import load_manager
from comfy_core.registry.plugin_env import enable_facades
from comfy_core.registry.prestartup import run_prestartup_scripts
from comfy_core.services import (
    BaseServices,
    Services,
    Startup,
    build_base_services,
    complete_services,
)
from comfy_core.settings import Settings, parse_settings

__all__ = ["BinaryEventTypes", "PromptServer", "main"]

log = logging.getLogger("comfy_core.server")
ROOT = Path(__file__).resolve().parent
EXIT_BAD_STORE = 2  # the job database is damaged, in use or cannot be opened (logged)
EXIT_BAD_CLUSTER = 3  # --ray given but the cluster cannot be used (message logged)


def _setup_logging(verbose: bool) -> LogBuffer:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    buffer = LogBuffer()
    logging.getLogger().addHandler(buffer)
    return buffer


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile)
    return context


def _start_cluster(settings: Settings):
    """With --ray: the connected Cluster (comfy_core.cluster, imported only then), or False
    after logging why it cannot start; None without --ray."""
    if not settings.cluster.enabled:
        return None
    from comfy_core.cluster import Cluster, ClusterStartError

    try:
        return Cluster.start(settings)
    except ClusterStartError as exc:
        log.error("cannot start with --ray %s: %s", settings.cluster.address, exc)
        return False


def _after_prestartup(plugin_host: Any, prompt_server: PromptServer, settings: Settings,
                      build: Callable[[BaseServices], Services]) -> Callable:
    """The start-up thread's work: ComfyUI-Manager's and the packs' prestartup scripts
    first (before torch is imported; the port is already bound), then `build`, once the
    server loop runs (packs may use PromptServer.instance.loop while they import)."""

    def run(base: BaseServices) -> Services:
        plugin_host.manager = load_manager(settings)  # --enable-manager; started before packs
        run_prestartup_scripts(base.folders, settings)
        if not prompt_server.loop_ready.wait(60):
            log.warning("the server loop is not running yet; packs load without it")
        return build(base)

    return run


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ,
                              default_base=ROOT)
    logs = _setup_logging(settings.verbose)
    if settings.auth_token_generated:
        print(f"Generated auth token (send 'Authorization: Bearer <token>' or open "
              f"/?token=<token>): {settings.auth_token}", flush=True)
    check_can_listen(settings)  # before any thread starts
    try:
        web_root = resolve_front_end_root(settings.front_end_root, ROOT / "web")
    except FrontendRootError as exc:
        log.error("%s", exc)
        return 2
    frontend = Frontend.discover(web_root, ROOT / "web", ROOT / "requirements.txt")
    log.info("serving %s", frontend.describe())
    temp_dir = FolderPaths.from_settings(settings).temp_dir
    shutil.rmtree(temp_dir, ignore_errors=True)
    try:
        base = build_base_services(settings, web_root=web_root, logs=logs,
                                   frontend=frontend)
    except (DamagedStoreError, StoreLockedError, StoreUnavailableError) as exc:  # says why
        log.error("cannot start: %s", exc)
        return EXIT_BAD_STORE
    plugin_host = enable_facades(base.folders, settings)
    prompt_server = PromptServer(base.store, settings)  # packs find PromptServer.instance
    cluster = _start_cluster(settings)  # before binding: a bad --ray stops here
    if cluster is False:
        base.store.close()
        return EXIT_BAD_CLUSTER
    build = cluster.build_services if cluster else complete_services
    startup = Startup.begin(base, _after_prestartup(plugin_host, prompt_server, settings, build))
    app = create_app(startup, prompt_server)
    context = _ssl_context(settings)
    scheme = "https" if context else "http"
    for host in settings.listen:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        log.info("To see the GUI go to: %s://%s:%d", scheme, shown, settings.port)
    try:
        web.run_app(app, host=list(settings.listen), port=settings.port, ssl_context=context,
                    print=None, access_log=None, handle_signals=True)
    finally:
        if cluster:
            cluster.shutdown()
        base.store.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("server", sys.modules[__name__])
    sys.exit(main())
