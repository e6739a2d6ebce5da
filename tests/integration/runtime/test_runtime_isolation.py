"""Namespaces: what a learner checks with unshare/nsenter in the labs, on real pods."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from runtime_pods import Pods
from util import wait_for

from minik.runtime.images.builder import DEFAULT_PATH, build_image, busybox_layer

pytestmark = pytest.mark.root


def test_container_process_is_pid_1_and_sees_only_its_pid_namespace(pods: Pods) -> None:
    sandbox = pods.sandbox()
    container = pods.run(sandbox, ["sh", "-c", "echo pid=$$; exec sleep 600"])
    assert pods.wait_log(container, "pid=")[0] == "pid=1"
    code, out, _ = pods.exec(container, "ps", "-o", "pid,comm")
    assert code == 0
    pids = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert pids["1"] == "sleep"  # the container's own process is PID 1; no host process is visible
    assert len(pids) <= 3  # sleep, the exec'd ps (and its sh): nothing from the host
    host_pid = pods.info(container)["pid"]
    assert os.readlink(f"/proc/{host_pid}/ns/pid") != os.readlink("/proc/self/ns/pid")


def test_hostname_is_the_pod_name_and_the_host_keeps_its_own(pods: Pods) -> None:
    sandbox = pods.sandbox("hostname-pod")
    container = pods.run(sandbox, ["sh", "-c", "hostname; exec sleep 600"])
    assert pods.wait_log(container, "hostname-pod") == ["hostname-pod"]
    assert pods.exec(container, "hostname", "changed")[0] != 0  # no CAP_SYS_ADMIN in the container
    pid = pods.info(container)["pid"]
    subprocess.run(["nsenter", f"--uts=/proc/{pid}/ns/uts", "hostname", "changed-inside"], check=True)
    assert pods.exec(container, "hostname")[1].strip() == "changed-inside"
    assert socket.gethostname() != "changed-inside"  # the node keeps its own UTS namespace
    assert pods.exec(container, "cat", "/etc/hostname")[1].strip() == "hostname-pod"


def test_ipc_is_shared_in_a_pod_and_isolated_between_pods(pods: Pods) -> None:
    first = pods.sandbox("ipc-a")
    a1 = pods.run(first, ["sleep", "600"], name="a1")
    a2 = pods.run(first, ["sleep", "600"], name="a2")
    other = pods.run(pods.sandbox("ipc-b"), ["sleep", "600"], name="b")
    pids = {name: pods.info(c)["pid"] for name, c in (("a1", a1), ("a2", a2), ("b", other))}

    def ipcs(name: str) -> str:
        return subprocess.run(["nsenter", f"--ipc=/proc/{pids[name]}/ns/ipc", "ipcs", "-q"], check=True,
                              capture_output=True, text=True).stdout

    created = subprocess.run(["nsenter", f"--ipc=/proc/{pids['a1']}/ns/ipc", "ipcmk", "-Q"], check=True,
                             capture_output=True, text=True).stdout
    queue_id = created.split(":")[-1].strip()
    assert queue_id in ipcs("a2")  # same pod: same IPC namespace (held by the pause process)
    assert queue_id not in ipcs("b")
    assert os.readlink(f"/proc/{pids['a1']}/ns/ipc") != os.readlink("/proc/self/ns/ipc")
    assert os.readlink(f"/proc/{pids['a1']}/ns/ipc") == os.readlink(f"/proc/{pids['a2']}/ns/ipc")
    # /dev/shm is the pod's too
    assert pods.exec(a1, "sh", "-c", "echo hi > /dev/shm/note")[0] == 0
    assert pods.exec(a2, "cat", "/dev/shm/note")[1] == "hi\n"
    assert pods.exec(other, "cat", "/dev/shm/note")[0] != 0


def test_containers_of_a_pod_share_the_network_other_pods_do_not(pods: Pods) -> None:
    web_pod = pods.sandbox("app")
    pods.run(web_pod, image="minik/app:v1", name="app")
    sidecar = pods.run(web_pod, ["sleep", "600"], name="sidecar")
    reply = wait_for(lambda: pods.exec(sidecar, "wget", "-qO-", "http://127.0.0.1:8080/")[1],
                     message="the app answering on the pod's loopback")
    assert reply == "You've hit app (v1)\n"
    stranger = pods.run(pods.sandbox("other"), ["sleep", "600"], name="stranger")
    code, _, _ = pods.exec(stranger, "wget", "-qO-", "-T", "2", "http://127.0.0.1:8080/")
    assert code != 0  # another pod's loopback is another network namespace
    code, out, _ = pods.exec(sidecar, "ip", "link")
    assert code == 0 and "lo:" in out and "UP" in out.split("lo:")[1].splitlines()[0]


def test_mounts_proc_sys_dev_and_masked_paths(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["sleep", "600"])
    mounts = pods.exec(container, "cat", "/proc/mounts")[1]
    assert "overlay / overlay" in mounts
    assert "proc /proc proc" in mounts
    assert "sysfs /sys sysfs ro," in mounts
    assert "tmpfs /dev tmpfs" in mounts and "devpts /dev/pts devpts" in mounts
    assert pods.exec(container, "sh", "-c", "echo x > /sys/kernel/profiling")[0] != 0  # read-only /sys
    assert pods.exec(container, "sh", "-c", "echo 1 > /proc/sys/kernel/sysrq")[0] != 0  # read-only /proc/sys
    assert pods.exec(container, "cat", "/proc/kcore")[1] == ""  # masked by /dev/null
    assert pods.exec(container, "sh", "-c", "head -c 4 /dev/zero | wc -c")[1].strip() == "4"
    status = pods.exec(container, "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status")[1]
    assert "CapEff:\t00000000a80425fb" in status  # Docker's default capability set
    assert "NoNewPrivs:\t1" in status


def test_privileged_container_keeps_all_capabilities(pods: Pods) -> None:
    container = pods.run(pods.sandbox(), ["sleep", "600"],
                         linux={"security_context": {"privileged": True}})
    status = pods.exec(container, "grep", "^CapEff", "/proc/self/status")[1]
    assert int(status.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN
    mounts = pods.exec(container, "cat", "/proc/mounts")[1]
    assert "sysfs /sys sysfs rw," in mounts  # read-only /sys and masked /proc paths are lifted
    assert "/proc/kcore" not in mounts and "/proc/sys " not in mounts


def test_run_as_user_env_and_working_dir(pods: Pods) -> None:
    container = pods.run(
        pods.sandbox(), ["sh", "-c", "id -u; id -g; pwd; echo $GREETING; exec sleep 600"],
        working_dir="/tmp/work", envs=[{"key": "GREETING", "value": "hello"}],
        linux={"security_context": {"run_as_user": {"value": 1000}, "run_as_group": {"value": 3000}}},
    )
    assert pods.wait_log(container, "hello") == ["1000", "3000", "/tmp/work", "hello"]
    code, out, _ = pods.exec(container, "grep", "^CapEff", "/proc/self/status")
    assert out.split()[1] == "0000000000000000"  # a non-root user has no effective capabilities


def test_image_entrypoint_and_args_follow_kubernetes_rules(pods: Pods) -> None:
    sandbox = pods.sandbox()
    # args only: image Entrypoint (/app/start.sh) + args replaces Cmd; command: replaces both
    replaced = pods.run(sandbox, ["echo", "from-command"], image="minik/app:v1", name="c1")
    assert pods.wait_log(replaced, "from-command") == ["from-command"]
    default = pods.run(sandbox, image="busybox", name="c2", args=["echo", "from-args"])
    assert pods.wait_log(default, "from-args") == ["from-args"]
    assert pods.wait_exited(default)["exit_code"] == 0


def test_volume_bind_mounts_honour_read_only(pods: Pods, tmp_path: os.PathLike[str]) -> None:
    data = os.path.join(str(tmp_path), "data")
    os.makedirs(data)
    with open(os.path.join(data, "in.txt"), "w") as f:
        f.write("from host\n")
    container = pods.run(pods.sandbox(), ["sleep", "600"], mounts=[
        {"container_path": "/data", "host_path": data, "readonly": False},
        {"container_path": "/ro", "host_path": data, "readonly": True},
    ])
    assert pods.exec(container, "cat", "/data/in.txt")[1] == "from host\n"
    assert pods.exec(container, "sh", "-c", "echo out > /data/out.txt")[0] == 0
    with open(os.path.join(data, "out.txt")) as f:
        assert f.read() == "out\n"
    code, _, err = pods.exec(container, "sh", "-c", "echo no > /ro/x")
    assert code != 0 and "Read-only file system" in err


def test_host_network_pods_share_the_node_network_and_hostname(pods: Pods) -> None:
    sandbox = pods.sandbox("hostnet", linux={"security_context": {"namespace_options": {"network": 2}}})
    container = pods.run(sandbox, ["sleep", "600"])
    pid = pods.info(container)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{pid}/ns/uts") == os.readlink("/proc/self/ns/uts")
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")  # still its own pids
    assert pods.exec(container, "hostname")[1].strip() == socket.gethostname()


def test_image_user_and_read_only_root_filesystem(pods: Pods) -> None:
    name = f"minik/as-nobody:{os.getpid()}"
    build_image(pods.runtime.images, [busybox_layer()], {"Env": [DEFAULT_PATH], "User": "nobody"}, [name])
    try:
        container = pods.run(pods.sandbox(), ["sleep", "600"], image=name,
                             linux={"security_context": {"readonly_rootfs": True}})
        assert pods.exec(container, "id", "-u")[1].strip() == "65534"  # the image's User, from its /etc/passwd
        code, _, err = pods.exec(container, "touch", "/x")
        assert code != 0 and "Read-only file system" in err
        assert pods.exec(container, "touch", "/dev/shm/ok")[0] == 0  # mounts on top stay writable
    finally:
        pods.runtime.remove_image({"image": name})
