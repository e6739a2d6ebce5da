"""`minik proxy`: Services as iptables rules on each node (kube-proxy's iptables mode).

    main.py         flags and the process (informers for Services, Endpoints, this Node)
    proxier.py      one sync: render everything, apply with one iptables-restore
    runner.py       bounded-frequency runner: batched syncs and the periodic full resync
    rules.py        the rule rendering (MINIK-SERVICES, MINIK-SVC-*, MINIK-SEP-*, ...)
    serviceport.py  Service/Endpoints objects -> service ports and ready endpoints
    iptables.py     iptables-save/restore, optionally inside a network namespace
    conntrack.py    stale UDP conntrack entries
    cleanup.py      remove every chain and jump the proxy made (minik down, --cleanup)
"""
