"""Sockets opened inside a pod's network namespace, for httpGet/tcpSocket probes.

setns(CLONE_NEWNET) changes the network namespace of the calling thread only, and a socket stays in
the namespace it was created in. So a short-lived thread enters the pod's namespace (via its pause
process), creates the socket and exits; the kubelet's own threads never leave the node's namespace.
This reaches the pod whether it has only loopback (as now) or a routable pod IP (with a CNI plugin).
"""

from __future__ import annotations

import os
import socket
import threading

from minik.runtime import linux


def socket_in_netns(pid: int, family: int = socket.AF_INET, type_: int = socket.SOCK_STREAM) -> socket.socket:
    """A new socket in the network namespace of process `pid` (OSError if it is gone)."""
    holder: dict[str, object] = {}

    def enter() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
            holder["socket"] = socket.socket(family, type_)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            holder["error"] = error

    thread = threading.Thread(target=enter, name=f"netns-{pid}", daemon=True)
    thread.start()
    thread.join()
    error = holder.get("error")
    if isinstance(error, BaseException):
        if isinstance(error, OSError):
            raise error
        raise OSError(str(error)) from error
    sock = holder.get("socket")
    assert isinstance(sock, socket.socket)
    return sock


def connect(host: str, port: int, timeout: float, netns_pid: int | None) -> socket.socket:
    """A TCP connection to host:port, made from the pod's namespace when `netns_pid` is given."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket_in_netns(netns_pid, family) if netns_pid else socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
