"""Who the client is, for every per-client limit and the audit log.

Behind ``PAKN_TRUSTED_PROXIES`` proxies, Werkzeug's ProxyFix (installed by ``create_app``) has
already put the real client address in ``remote_addr``. An IPv6 client gets a whole /64 from its
provider and can rotate addresses inside it freely, so IPv6 clients are counted per /64.
"""

from __future__ import annotations

import ipaddress

from flask import has_request_context, request


def client_key(address: str | None = None) -> str:
    """The address a limit counts against: the IPv4 address, or the IPv6 /64 network."""
    if address is None:
        address = (request.remote_addr or "") if has_request_context() else ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
