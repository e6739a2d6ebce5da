"""The pod's pause process (`minik-pause`): it holds the pod's net, ipc and uts namespaces.

Like Kubernetes' pause container it does nothing but exist: containers of the pod join its
namespaces through /proc/<pid>/ns/*, so `ls -l /proc/<pid>/ns` on the host shows a learner
what the pod shares. It is also PID 1 of its own pid namespace and reaps any zombie handed to it.
Started as `python -m minik.runtime.pause HOSTNAME [--host-network]`; it prints its pid and is adopted by init.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from minik.runtime import linux


def _pause_forever() -> None:
    linux.set_process_name("minik-pause")
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, 1024)

    def stop(_signum: int, _frame: object) -> None:
        os._exit(0)

    def reap(_signum: int, _frame: object) -> None:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, reap)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        signal.pause()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2 or (len(args) == 2 and args[1] != "--host-network"):
        print("usage: python -m minik.runtime.pause HOSTNAME [--host-network]", file=sys.stderr)
        return 2
    host_network = len(args) == 2
    try:
        if host_network:  # hostNetwork pods keep the node's network and hostname
            linux.unshare(linux.CLONE_NEWIPC | linux.CLONE_NEWPID)
        else:
            linux.unshare(linux.CLONE_NEWNET | linux.CLONE_NEWIPC | linux.CLONE_NEWUTS | linux.CLONE_NEWPID)
            linux.sethostname(args[0])
            linux.link_up("lo")
    except OSError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    child = os.fork()
    if child == 0:
        os.setsid()
        _pause_forever()
    print(json.dumps({"pid": child}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
