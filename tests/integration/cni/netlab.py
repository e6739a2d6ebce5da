"""A network lab of real namespaces for the CNI and proxy tests; never touches the host's network.

"Nodes" and "pods" are network namespaces named `minik-test-<pid>-<kind>-<hex>`; every link a test
makes lives inside them (test-unique `minikt<hex>` names), so deleting the namespaces removes it
all, and the host's links, routes and iptables are never changed. A lab removes everything it
made when the test ends, pass or fail; leftovers of a killed run (dead pid in the name) are swept
first. Traffic only flows between these namespaces, on private test addresses.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from minik.cni.invoke import exec_plugin
from minik.cni.network import build_conf
from minik.runtime.cleanup import kill_stale_test_processes

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_OWNER = re.compile(r"^minik-test-(\d+)-")
_libc = ctypes.CDLL(None, use_errno=True)


def _owner_gone(name: str) -> bool:
    """The name carries a test pid and that process is gone (a zombie counts as gone)."""
    match = _OWNER.match(name)
    if match is None:
        return False
    try:
        stat = Path(f"/proc/{match.group(1)}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def sweep_stale() -> list[str]:
    """Kill processes (e.g. a proxy) and delete namespaces and temp dirs of earlier runs whose test
    process is gone."""
    removed = [f"pid {pid}" for pid in kill_stale_test_processes()]
    if NETNS_DIR.is_dir():
        for entry in NETNS_DIR.iterdir():
            if _owner_gone(entry.name):
                subprocess.run(["ip", "netns", "del", entry.name], capture_output=True)
                removed.append(entry.name)
    for entry in Path(tempfile.gettempdir()).glob("minik-test-*-cni-*"):
        if _owner_gone(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed


def link_name() -> str:
    """A test-unique interface name: `minikt` + 6 hex digits (the kernel allows 15 characters)."""
    return "minikt" + secrets.token_hex(3)


def in_netns(netns: str, fn: Any, *args: Any) -> Any:
    """Run fn in a thread that joined `netns` (setns only affects the calling thread)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            box["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def socket_in(netns: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A socket that lives in `netns`, usable from this thread like any other."""
    return in_netns(netns, socket.socket, socket.AF_INET, kind)


def fetch(netns: str, ip: str, port: int, timeout: float = 10.0) -> str:
    """Connect from `netns` to ip:port and read what the server says (raises on refusal/timeout)."""
    with socket_in(netns) as sock:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        chunks = []
        while data := sock.recv(4096):
            chunks.append(data)
        return b"".join(chunks).decode()


class Server:
    """A TCP server in a pod namespace answering every connection with its name, then closing."""

    def __init__(self, netns: str, port: int, reply: str) -> None:
        self.sock = socket_in(netns)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))
        self.sock.listen(128)
        self.reply = reply.encode()
        self.peers: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            with conn:
                self.peers.append(peer[0])
                with contextlib.suppress(OSError):
                    conn.sendall(self.reply)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)


def run_in(netns: str, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, check=check)


def ping(netns: str, ip: str) -> bool:
    """One ICMP echo from `netns` (busybox ping; -W bounds the wait, it is not an assertion)."""
    return run_in(netns, "busybox", "ping", "-c", "1", "-W", "5", ip).returncode == 0


@dataclass
class Pod:
    netns: str
    container_id: str
    ip: str
    result: dict[str, Any]


@dataclass
class Node:
    """A node namespace with its own bridge and pod CIDR; pods are added through the CNI contract."""

    lab: Lab
    netns: str
    pod_cidr: str
    bridge: str
    conf: dict[str, Any]
    pods: list[Pod] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return str(self.conf["ipam"]["gateway"])

    def cni(self, command: str, pod_netns: str, container_id: str, conf: dict[str, Any] | None = None) -> Any:
        return exec_plugin(command, conf or self.conf, container_id=container_id,
                           netns=str(NETNS_DIR / pod_netns) if pod_netns else "", node_netns=self.netns)

    def add_pod(self, kind: str = "pod") -> Pod:
        netns = self.lab.netns(kind)
        container_id = secrets.token_hex(16)
        result = self.cni("ADD", netns, container_id)
        pod = Pod(netns, container_id, result["ips"][0]["address"].split("/")[0], result)
        self.pods.append(pod)
        return pod

    def ipr(self) -> IPRoute:
        return IPRoute(netns=self.netns, flags=0)


class Lab:
    """Creates namespaces and dirs; `close()` removes all of them (the fixture calls it)."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.dirs: list[Path] = []
        self.tag = secrets.token_hex(2)

    def netns(self, kind: str) -> str:
        name = f"minik-test-{os.getpid()}-{kind}-{secrets.token_hex(3)}"
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        self.namespaces.append(name)
        run_in(name, "ip", "link", "set", "lo", "up", check=True)
        return name

    def tmpdir(self, kind: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-cni-{kind}-"))
        self.dirs.append(path)
        return path

    def node(self, pod_cidr: str, cluster_cidr: str = "10.244.0.0/16", default_route: bool = True) -> Node:
        """A node namespace; with `default_route` it gets an uplink and a default route like a real
        node (routing must find a route before iptables may DNAT or REJECT). The uplink is a veth
        pair inside the node whose gateway does not exist: whatever is routed there is dropped."""
        netns = self.netns("node")
        bridge = link_name()
        conf = build_conf(pod_cidr, bridge=bridge, cluster_cidr=cluster_cidr, data_dir=self.tmpdir("ipam"))
        if default_route:
            uplink, peer = link_name(), link_name()
            run_in(netns, "ip", "link", "add", uplink, "type", "veth", "peer", "name", peer, check=True)
            run_in(netns, "ip", "addr", "add", "10.253.0.1/24", "dev", uplink, check=True)
            for end in (uplink, peer):
                run_in(netns, "ip", "link", "set", end, "up", check=True)
            run_in(netns, "ip", "route", "add", "default", "via", "10.253.0.254", check=True)
        return Node(self, netns, pod_cidr, bridge, conf)

    def connect(self, a: Node, a_ip: str, b: Node, b_ip: str) -> None:
        """A veth "lab link" between two node namespaces (one L2 segment), addresses a_ip/b_ip (CIDR)."""
        end_a, end_b = link_name(), link_name()
        subprocess.run(["ip", "link", "add", end_a, "netns", a.netns, "type", "veth", "peer", "name", end_b,
                        "netns", b.netns], check=True, capture_output=True)
        for netns, end, ip in ((a.netns, end_a, a_ip), (b.netns, end_b, b_ip)):
            run_in(netns, "ip", "addr", "add", ip, "dev", end, check=True)
            run_in(netns, "ip", "link", "set", end, "up", check=True)

    def close(self) -> None:
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    sweep_stale()
    current = Lab()
    try:
        yield current
    finally:
        current.close()


@pytest.fixture(name="lab")
def lab_fixture() -> Iterator[Lab]:
    """The `lab` fixture (imported by the cni and proxy conftests)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, veth, bridge, iptables)")
    with lab() as current:
        yield current
