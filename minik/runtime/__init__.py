"""The container runtime of a node: pods, containers and images, CRI-shaped.

Where things are:
    service.py     Runtime: every CRI method (run_pod_sandbox ... remove_image) in one facade
    sandboxes.py   pod sandboxes: pause process, pod cgroup, /etc/hosts|hostname|resolv.conf, /dev/shm
    containers.py  containers: overlay rootfs, cgroup, start via the shim, stop, remove, exec, status
    shim.py        minik-shim: the per-container parent that keeps logs and the exit code
    zygote.py      minik-zygote: a warm interpreter that forks the helpers (shim, pause, exec)
    process.py     starting helpers (through the zygote, else `python -m`), signalling, waiting
    init.py        what runs between fork and exec: namespaces, mounts, pivot_root, caps, user
    pause.py       minik-pause: holds the pod's net/ipc/uts namespaces
    nsexec.py      exec into a running container (setns + cgroup + caps + user)
    spec.py        command/args/env/user/capability rules (Kubernetes' and Docker's)
    cgroups.py     cgroup v1 and v2 drivers, value conversions, OOM counts, stats
    logs.py        CRI log format with rotation
    network.py     the pod network hook (loopback now; minik.cni plugs in)
    linux.py       ctypes wrappers: unshare, setns, mount, pivot_root, prctl, capset
    images/        content store, safe layer extraction, archive import/export, registry pull/push,
                   lab image builder
    main.py        `minik runtime` daemon; server.py + wire.py + client.py: gRPC/JSON over a unix socket
    crictl.py      `minik crictl`: ps, pods, images, inspect, logs, exec, stats
    cleanup.py     remove a state dir with its mounts; sweep leftovers of killed test runs
"""
