"""`minik runtime`: the node's container runtime daemon, serving the CRI-shaped API on a unix socket.

    minik runtime --root /var/lib/minik/runtime --listen unix:///run/minik/runtime.sock \
        --cgroup-parent minik --registry 10.0.0.1:5000 --insecure-registry 10.0.0.1:5000

Containers outlive the daemon (each has its own shim), so stopping or restarting it never stops a
pod; a new daemon on the same --root re-adopts them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from minik.cni.network import add_network_flags, network_from_args
from minik.logsetup import setup_logging
from minik.runtime import linux
from minik.runtime.client import DEFAULT_SOCKET
from minik.runtime.images.registry import RegistryConfig
from minik.runtime.server import serve
from minik.runtime.service import Runtime
from minik.runtime.state import DEFAULT_ROOT, CRIError
from minik.runtime.wire import socket_path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik runtime", description="the container runtime of a node")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="state dir (images, pods, containers)")
    p.add_argument("--listen", default=DEFAULT_SOCKET, help="unix socket to serve on")
    p.add_argument("--cgroup-parent", default="minik", help="cgroup all pods go under (minik prefix)")
    p.add_argument("--registry", default="docker.io", help="default registry for short image names")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST:PORT",
                   help="registry spoken to over plain HTTP (repeatable)")
    p.add_argument("--build-lab-images", action="store_true",
                   help="build busybox and minik/app:v1|v2 into the store at start")
    p.add_argument("--log-max-size", type=int, default=10 << 20, help="container log size before rotation")
    p.add_argument("--log-max-files", type=int, default=5, help="rotated container log files kept")
    p.add_argument("-v", "--verbose", action="store_true")
    add_network_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    log = logging.getLogger("minik.runtime")
    linux.set_process_name("minik-runtime")
    try:
        registry = RegistryConfig(default_registry=args.registry, insecure=list(args.insecure_registry))
        runtime = Runtime(args.root, cgroup_parent=args.cgroup_parent, registry=registry,
                          network=network_from_args(args), log_max_size=args.log_max_size,
                          log_max_files=args.log_max_files)
        if args.build_lab_images:
            from minik.runtime.images.builder import build_lab_images

            for image in build_lab_images(runtime.images):
                log.info("lab image %s ready (%s)", ", ".join(image.repo_tags), image.id[:19])
        server = serve(runtime, args.listen)
    except (CRIError, OSError) as error:
        print(f"minik runtime: {error}", file=sys.stderr)
        return 1
    log.info("serving the runtime API on %s (root %s, cgroup %s %s/)", args.listen, args.root,
             runtime.cgroups.version, args.cgroup_parent)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    log.info("stopping (containers keep running)")
    server.stop(grace=5).wait()
    Path(socket_path(args.listen)).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
