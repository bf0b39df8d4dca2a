"""Which Host header values name this server: the defence against DNS rebinding.

A page on `evil.example` whose name is re-pointed at 127.0.0.1 talks to us as a
same-origin client, so the Origin check alone cannot see it; the Host header still says
`evil.example`. Accepted names: loopback names and addresses, the `--listen` addresses
(with every local interface address and the host name when listening on a wildcard), and
the names given with `--allow-host`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from comfy_core.settings import Settings

log = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::"})


def host_name(header: str) -> str:
    """The name part of a Host header, lower-cased, without port, brackets or final dot."""
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback_name(name: str) -> bool:
    """`localhost` or any loopback address (127.0.0.0/8, ::1)."""
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _interface_names() -> set[str]:
    """Every address of this machine's interfaces, and its host name (wildcard listen)."""
    import psutil

    names = {socket.gethostname().lower()}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                names.add(address.address.partition("%")[0].lower())
    return names


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The Host names this server answers to (loopback addresses are matched separately)."""
    names = set(LOOPBACK_NAMES)
    names.update(host_name(h) for h in settings.listen)
    names.update(settings.allow_hosts)
    if any(h in WILDCARDS for h in settings.listen):
        names.update(_interface_names())
    return frozenset(names)


def is_allowed(name: str, allowed: frozenset[str]) -> bool:
    return name in allowed or is_loopback_name(name)
