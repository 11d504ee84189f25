"""Loopback-only networking for tests and the processes they start.

Imported automatically by every Python process whose PYTHONPATH holds this folder (the
test session puts it there), so even a crawler that is wrong cannot reach another address.
Name lookups are refused too, except for addresses and ``localhost``: no DNS query leaves the
machine, and a test's unknown host fails at once, as a name without DNS records does.
"""

from __future__ import annotations

import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname
_gethostbyname_ex = socket.gethostbyname_ex


def _check(sock: socket.socket, address: object) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"test network guard: {host} is not a loopback address")


def connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _connect(self, address)


def connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _connect_ex(self, address)


def sendto(self: socket.socket, data: bytes, *args: object) -> int:
    _check(self, args[-1])
    return _sendto(self, data, *args)  # type: ignore[arg-type]


def _check_name(host: object) -> None:
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        if name.lower().rstrip(".") != "localhost":
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: no DNS lookup of {name}") from None


def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
    if host is not None:
        _check_name(host)
    return _getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


def gethostbyname(host: str) -> str:
    _check_name(host)
    return _gethostbyname(host)


def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
    _check_name(host)
    return _gethostbyname_ex(host)


socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
socket.gethostbyname = gethostbyname
socket.gethostbyname_ex = gethostbyname_ex
socket.socket.connect = connect  # type: ignore[method-assign]
socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
