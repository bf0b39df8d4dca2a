"""Server settings: parsed once at the edge into a frozen value, never at import.

`parse_settings(argv, environ)` is the only entry point; every other module receives the
resulting `Settings` (through Services or the runtime AppContext) instead of reading flags.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

CACHE_KINDS = ("classic", "lru", "ram", "none")
PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")
AUTH_TOKEN_ENV = "COMFY_AUTH_TOKEN"
ANY_HOST = "*"
DEFAULT_MAX_IMAGE_PIXELS = 8192 * 8192
DEFAULT_MAX_IMAGE_FRAMES = 256


@dataclass(frozen=True)
class MemoryFlags:
    """Device and precision flags, kept verbatim for the memory manager to interpret."""

    cpu: bool = False
    gpu_only: bool = False
    highvram: bool = False
    normalvram: bool = False
    lowvram: bool = False
    novram: bool = False
    reserve_vram: float | None = None
    force_fp16: bool = False
    force_fp32: bool = False
    bf16_unet: bool = False
    fp16_unet: bool = False
    fp32_unet: bool = False
    fp16_vae: bool = False
    bf16_vae: bool = False
    fp32_vae: bool = False
    cpu_vae: bool = False
    disable_smart_memory: bool = False
    compile: bool = False


@dataclass(frozen=True)
class ClusterFlags:
    """`--ray` and its companions; `address` None means one in-process worker (no Ray)."""

    address: str | None = None  # "local", "auto", "host:port" or "ray://host:port"
    workers: int | None = None  # None: one per GPU of the cluster, else one
    worker_cpus: float = 1.0
    object_store_mb: int = 512
    heartbeat_timeout: float = 60.0
    locality_wait: float = 3.0

    @property
    def enabled(self) -> bool:
        return self.address is not None


@dataclass(frozen=True)
class Settings:
    """Everything the server was told on its command line and environment."""

    listen: tuple[str, ...] = ("127.0.0.1",)
    port: int = 8188
    tls_keyfile: Path | None = None
    tls_certfile: Path | None = None
    cors_origin: str | None = None
    allow_hosts: tuple[str, ...] = ()
    max_upload_size_mb: float = 100.0
    max_prompt_size_mb: float = 16.0
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    max_image_frames: int = DEFAULT_MAX_IMAGE_FRAMES
    base_directory: Path = field(default_factory=Path.cwd)
    input_directory: Path | None = None
    output_directory: Path | None = None
    temp_directory: Path | None = None
    user_directory: Path | None = None
    extra_model_paths_config: tuple[Path, ...] = ()
    auth_token: str | None = None
    auth_token_generated: bool = False
    disable_all_custom_nodes: bool = False
    whitelist_custom_nodes: frozenset[str] | None = None
    enable_manager: bool = False
    enable_manager_legacy_ui: bool = False
    disable_manager_ui: bool = False
    cache_kind: str = "classic"
    cache_lru_size: int = 0
    cache_ram_gb: float = 4.0
    preview_method: str = "none"
    preview_size: int = 512
    disable_metadata: bool = False
    max_history: int = 10000
    requeue_running: bool = False
    database: Path | None = None
    verbose: bool = False
    front_end_root: Path | None = None
    memory: MemoryFlags = field(default_factory=MemoryFlags)
    cluster: ClusterFlags = field(default_factory=ClusterFlags)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_size_mb * 1024 * 1024)

    @property
    def max_prompt_bytes(self) -> int:
        return int(self.max_prompt_size_mb * 1024 * 1024)

    @property
    def is_public(self) -> bool:
        """True when any listen address is reachable from other machines."""
        return not all(is_loopback(host) for host in self.listen)

    @property
    def host_check(self) -> bool:
        """Whether requests must name this server in Host (off with `--allow-host '*'`)."""
        return ANY_HOST not in self.allow_hosts

    @property
    def requires_token(self) -> bool:
        """An auth token is needed unless every listen address is loopback *and* the Host
        check is on: a loopback server without it is reachable through DNS rebinding."""
        return self.is_public or not self.host_check

    def resolved_user_dir(self) -> Path:
        return (self.user_directory or self.base_directory / "user").resolve()

    def resolved_database(self) -> Path:
        return self.database or self.resolved_user_dir() / "jobs.sqlite3"


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name) only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser behind `server.py --help`; every flag documented."""
    p = argparse.ArgumentParser(
        prog="server.py", description="ComfyUI-compatible workflow server for latent diffusion."
    )
    _add_network_flags(p)
    _add_folder_flags(p)
    _add_execution_flags(p)
    _add_memory_flags(p)
    _add_cluster_flags(p)
    return p


def _add_network_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network and security")
    g.add_argument("--listen", nargs="?", const="0.0.0.0", default="127.0.0.1", metavar="IP",
                   help="address(es) to listen on, comma separated; no value = 0.0.0.0 "
                        "(default 127.0.0.1)")
    g.add_argument("--port", type=int, default=8188, help="TCP port (default 8188)")
    g.add_argument("--tls-keyfile", type=Path, help="TLS private key file (enables https)")
    g.add_argument("--tls-certfile", type=Path, help="TLS certificate file (enables https)")
    g.add_argument("--enable-cors-header", nargs="?", const="*", default=None, metavar="ORIGIN",
                   help="send CORS headers allowing ORIGIN (no value = '*'); disables the "
                        "same-origin check")
    g.add_argument("--max-upload-size", type=float, default=100.0, metavar="MB",
                   help="largest accepted request body in MB (default 100)")
    g.add_argument("--max-prompt-size", type=float, default=16.0, metavar="MB",
                   help="largest POST /prompt body in MB (prompt, extra_data and workflow "
                        "together, as stored in the queue and history; default 16)")
    g.add_argument("--max-image-pixels", type=int, default=DEFAULT_MAX_IMAGE_PIXELS, metavar="N",
                   help="largest image (all frames together) accepted at upload or decoded "
                        "by LoadImage and /view previews (default 67108864 = 8192x8192)")
    g.add_argument("--max-image-frames", type=int, default=DEFAULT_MAX_IMAGE_FRAMES, metavar="N",
                   help="most frames an uploaded or loaded image may have (default 256)")
    g.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also accept requests whose Host header names NAME (repeatable, comma "
                        "separated); loopback names and the --listen addresses are always "
                        "accepted; '*' turns the Host check off (then a token is required)")
    g.add_argument("--auth-token", default=None, metavar="TOKEN",
                   help=f"bearer token required on every request (env {AUTH_TOKEN_ENV}); "
                        "generated and printed when one is needed (a non-loopback --listen "
                        "address, or --allow-host '*') and none is given")


def _add_folder_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("folders")
    g.add_argument("--base-directory", type=Path, default=None,
                   help="base for models/, custom_nodes/, input/, output/, temp/, user/ "
                        "(default: the current directory)")
    g.add_argument("--input-directory", type=Path, help="input folder (default <base>/input)")
    g.add_argument("--output-directory", type=Path, help="output folder (default <base>/output)")
    g.add_argument("--temp-directory", type=Path,
                   help="parent of the temp folder: X gives X/temp (default <base>/temp)")
    g.add_argument("--user-directory", type=Path, help="user data folder (default <base>/user)")
    g.add_argument("--extra-model-paths-config", type=Path, action="append", default=[],
                   metavar="YAML", help="extra_model_paths.yaml file to read (repeatable)")
    g.add_argument("--disable-all-custom-nodes", action="store_true",
                   help="load no custom nodes (except those in --whitelist-custom-nodes)")
    g.add_argument("--front-end-root", type=Path, default=None, metavar="DIR",
                   help="serve the built frontend in DIR instead of ComfyUI's frontend package; "
                        "'web' serves this project's own editor")
    g.add_argument("--whitelist-custom-nodes", nargs="+", default=None, metavar="NAME",
                   help="custom node modules still loaded with --disable-all-custom-nodes")
    g.add_argument("--enable-manager", action="store_true",
                   help="run ComfyUI-Manager (the comfyui-manager pip package) inside the "
                        "server: its routes and its pack installer")
    g.add_argument("--enable-manager-legacy-ui", action="store_true",
                   help="with --enable-manager: its legacy web UI")
    g.add_argument("--disable-manager-ui", action="store_true",
                   help="with --enable-manager: only its start-up duties, no routes")


def _add_execution_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution, previews and history")
    cache = g.add_mutually_exclusive_group()
    cache.add_argument("--cache-classic", action="store_true",
                       help="keep only the outputs the latest prompt used (default)")
    cache.add_argument("--cache-lru", type=int, default=0, metavar="N",
                       help="keep up to N node results across prompts")
    cache.add_argument("--cache-ram", nargs="?", type=float, const=4.0, default=None,
                       metavar="GB", help="keep results until free RAM drops below GB "
                                          "(no value = 4)")
    cache.add_argument("--cache-none", action="store_true", help="cache nothing")
    g.add_argument("--preview-method", choices=PREVIEW_METHODS, default="none",
                   help="live previews while sampling, for prompts that do not choose one "
                        "(default none, as ComfyUI; a prompt's extra_data.preview_method, "
                        "which the editors send from their setting, overrides it)")
    g.add_argument("--preview-size", type=int, default=512, help="preview size in px (512)")
    g.add_argument("--disable-metadata", action="store_true",
                   help="do not write the prompt/workflow into saved files")
    g.add_argument("--max-history", type=int, default=10000,
                   help="history records kept; the oldest are trimmed (default 10000)")
    g.add_argument("--requeue-running", action="store_true",
                   help="after a crash, re-queue the job that was running instead of "
                        "recording it as failed")
    g.add_argument("--database", type=Path, default=None, metavar="PATH",
                   help="SQLite file of the queue and history (default <user>/jobs.sqlite3)")
    g.add_argument("--verbose", action="store_true", help="debug logging")


_MEMORY_BOOL_FLAGS = (
    ("--cpu", "run everything on the CPU"),
    ("--gpu-only", "keep every model on the GPU"),
    ("--highvram", "keep models in VRAM after use"),
    ("--normalvram", "force normal VRAM use even if low VRAM is detected"),
    ("--lowvram", "split the UNet to use less VRAM"),
    ("--novram", "stream weights from RAM even for small models"),
    ("--force-fp16", "compute in fp16"), ("--force-fp32", "compute in fp32"),
    ("--bf16-unet", "UNet weights in bf16"), ("--fp16-unet", "UNet weights in fp16"),
    ("--fp32-unet", "UNet weights in fp32"), ("--fp16-vae", "VAE in fp16"),
    ("--bf16-vae", "VAE in bf16"), ("--fp32-vae", "VAE in fp32"),
    ("--cpu-vae", "run the VAE on the CPU"),
    ("--disable-smart-memory", "unload all models after every prompt"),
    ("--compile", "torch.compile the diffusion model"),
)


def _add_memory_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("devices and memory")
    for flag, text in _MEMORY_BOOL_FLAGS:
        g.add_argument(flag, action="store_true", help=text)
    g.add_argument("--reserve-vram", type=float, default=None, metavar="GB",
                   help="VRAM in GB to leave free for other software")


def _add_cluster_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster (Ray; see docs/cluster.md)")
    g.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run jobs on workers of a Ray cluster: 'local' starts one on this "
                        "machine; 'auto', HOST:PORT or ray://HOST:PORT joins a running one")
    g.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="worker actors to start (default: one per GPU of the cluster, or one "
                        "when it has none)")
    g.add_argument("--ray-worker-cpus", type=float, default=1.0, metavar="N",
                   help="CPUs each worker reserves (default 1; fractions allowed)")
    g.add_argument("--ray-object-store-mb", type=int, default=512, metavar="MB",
                   help="object store size of a --ray local cluster (default 512)")
    g.add_argument("--ray-heartbeat-timeout", type=float, default=60.0, metavar="S",
                   help="seconds without a sign of life before a worker counts as hung and "
                        "its job is re-run elsewhere (default 60)")
    g.add_argument("--ray-locality-wait", type=float, default=3.0, metavar="S",
                   help="seconds a job waits for a busy worker that already holds its model "
                        "before another worker loads it (default 3)")


def _cluster_flags(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> ClusterFlags:
    if ns.ray is not None and not ns.ray.strip():
        parser.error("--ray needs an address: 'local', 'auto', HOST:PORT or ray://HOST:PORT")
    if (ns.ray_workers is not None and ns.ray_workers <= 0) or ns.ray_worker_cpus <= 0 \
            or ns.ray_heartbeat_timeout <= 0 or ns.ray_locality_wait < 0:
        parser.error("--ray-workers, --ray-worker-cpus and --ray-heartbeat-timeout must be "
                     "positive")
    if ns.ray_object_store_mb < 75:
        parser.error("--ray-object-store-mb must be at least 75 (Ray's minimum)")
    return ClusterFlags(address=ns.ray.strip() if ns.ray else None, workers=ns.ray_workers,
                        worker_cpus=ns.ray_worker_cpus, object_store_mb=ns.ray_object_store_mb,
                        heartbeat_timeout=ns.ray_heartbeat_timeout,
                        locality_wait=ns.ray_locality_wait)


def parse_settings(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    token_factory: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    default_base: Path | None = None,
) -> Settings:
    """Build Settings from command-line arguments and the environment.

    `default_base` is the base directory when --base-directory is absent (server.py passes
    its own folder); without it the current directory is used.

    Raises SystemExit (argparse) on malformed flags, with the usage message."""
    parser = build_parser()
    ns = parser.parse_args(list(argv))
    listen = tuple(h.strip() for h in ns.listen.split(",") if h.strip()) or ("127.0.0.1",)
    if (ns.tls_keyfile is None) != (ns.tls_certfile is None):
        parser.error("--tls-keyfile and --tls-certfile must be given together")
    for name in ("port", "preview_size", "max_history", "max_image_pixels", "max_image_frames"):
        if getattr(ns, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if ns.max_upload_size <= 0 or ns.max_prompt_size <= 0 or ns.cache_lru < 0:
        parser.error("--max-upload-size and --max-prompt-size must be positive and "
                     "--cache-lru not negative")
    kind, lru, ram = _cache_choice(ns)
    token = ns.auth_token or environ.get(AUTH_TOKEN_ENV) or None
    generated = False
    settings = Settings(
        listen=listen, port=ns.port, tls_keyfile=ns.tls_keyfile, tls_certfile=ns.tls_certfile,
        cors_origin=ns.enable_cors_header, max_prompt_size_mb=ns.max_prompt_size,
        max_image_pixels=ns.max_image_pixels,
        max_image_frames=ns.max_image_frames,
        allow_hosts=tuple(h.strip().lower().rstrip(".") for raw in ns.allow_host
                          for h in raw.split(",") if h.strip()),
        max_upload_size_mb=ns.max_upload_size,
        base_directory=(ns.base_directory or default_base or Path.cwd()).resolve(),
        input_directory=ns.input_directory, output_directory=ns.output_directory,
        temp_directory=ns.temp_directory, user_directory=ns.user_directory,
        extra_model_paths_config=tuple(ns.extra_model_paths_config),
        disable_all_custom_nodes=ns.disable_all_custom_nodes,
        whitelist_custom_nodes=(frozenset(ns.whitelist_custom_nodes)
                                if ns.whitelist_custom_nodes is not None else None),
        enable_manager=ns.enable_manager, enable_manager_legacy_ui=ns.enable_manager_legacy_ui,
        disable_manager_ui=ns.disable_manager_ui,
        cache_kind=kind, cache_lru_size=lru, cache_ram_gb=ram,
        preview_method=ns.preview_method, preview_size=ns.preview_size,
        disable_metadata=ns.disable_metadata, max_history=ns.max_history,
        requeue_running=ns.requeue_running, database=ns.database, verbose=ns.verbose,
        front_end_root=ns.front_end_root,
        memory=MemoryFlags(**{f.lstrip("-").replace("-", "_"): getattr(
            ns, f.lstrip("-").replace("-", "_")) for f, _ in _MEMORY_BOOL_FLAGS},
            reserve_vram=ns.reserve_vram),
        cluster=_cluster_flags(parser, ns),
    )
    if token is None and settings.requires_token:
        token, generated = token_factory(), True
    return replace(settings, auth_token=token, auth_token_generated=generated)


def _cache_choice(ns: argparse.Namespace) -> tuple[str, int, float]:
    if ns.cache_none:
        return "none", 0, 4.0
    if ns.cache_lru > 0:
        return "lru", ns.cache_lru, 4.0
    if ns.cache_ram is not None:
        return "ram", 0, ns.cache_ram
    return "classic", 0, 4.0
