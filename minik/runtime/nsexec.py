"""`exec` into a running container: what `nsenter -t PID -a` does, plus the container's cgroup,
capabilities, user, env and working dir, so the new process is a peer of the container's own.

`python -m minik.runtime.nsexec SPEC.json PID CMD...`: joins the cgroup, setns()es into the
ipc/uts/net/pid/mnt namespaces of PID (mnt last: it also moves us into the container's root),
forks (a pid namespace applies to children only), and the child execs CMD. The parent relays the
exit code and, when told to stop (the exec timed out), kills the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from minik.runtime import linux
from minik.runtime.init import ExecNotFoundError, become, exec_process

ORDER = ("ipc", "uts", "net", "pid", "mnt")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3:
        print("usage: python -m minik.runtime.nsexec SPEC.json PID CMD...", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text())
    target = int(args[1])
    spec["args"] = args[2:]
    linux.set_process_name("minik-exec")
    fds = {ns: os.open(f"/proc/{target}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC) for ns in ORDER}
    for procs in spec.get("cgroup_procs", []):
        Path(procs).write_text(str(os.getpid()))
    for ns in ORDER:
        linux.setns(fds[ns], linux.NS_FLAGS[ns])
        os.close(fds[ns])
    child = os.fork()
    if child == 0:
        try:
            become(spec)
            exec_process(spec)
        except ExecNotFoundError as error:
            os.write(2, f"{error}\n".encode())
            os._exit(127)
        except BaseException as error:  # noqa: BLE001
            os.write(2, f"exec failed: {error}\n".encode())
            os._exit(126)
        os._exit(126)

    def stop(_signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
