"""The kubelet: the node agent that runs the pods bound to this node (`minik kubelet`).

Where things are:
    main.py            flags -> KubeletConfig (config.py), starts the Kubelet
    kubelet.py         Kubelet: sources -> pod manager -> pod workers -> sync_pod_worker; housekeeping
    podmanager.py      the pods to run (API + static) and the mirror pods
    podworkers.py      one thread per pod UID: syncs of a pod never overlap
    pleg.py            relists the runtime every second and wakes the pods whose containers changed
    actions.py         compute_pod_actions: the plan (sandbox, next init container, start, kill)
    runtime_manager.py runtime status of a pod, sync_pod (acts on the plan), kill_pod, pruning
    sandbox.py         CRI PodSandboxConfig; container.py: CRI ContainerConfig (env, command, security)
    envvars.py         Service environment variables (KUBERNETES_SERVICE_HOST, <SVC>_PORT_80_TCP, ...)
    lifecycle.py       postStart/preStop hooks: exec, httpGet, sleep (run by runtime_manager.py)
    resources.py       requests/limits -> cgroup shares, quota, memory; pod requests
    images.py          pulls per imagePullPolicy with back-off; backoff.py: the exponential back-off
    volumes.py         emptyDir (disk or tmpfs), hostPath with its types, subPath, readOnly
    status.py          generate_api_pod_status (phase, conditions, container statuses)
    status_manager.py  writes the status diff to pods/status (or the mirror pod's)
    prober.py          probe workers and results; probes.py: exec/httpGet/tcpSocket; netns.py
    admission.py       does the pod fit (OutOfcpu, OutOfmemory, OutOfpods)
    static_pods.py     manifest directory source and mirror pods
    nodestatus.py      Node registration and status; machine.py: the machine's facts; lease.py
    server.py          HTTPS :10250: containerLogs and exec; logs.py, exec.py, streams.py
    types.py           runtime-side types and the labels/annotations on runtime objects
    podutil.py         safe accessors for pod dicts
"""
