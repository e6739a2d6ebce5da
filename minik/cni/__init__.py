"""The pod network of a node: a CNI plugin (bridge + veth + host-local IPAM) and the network agent.

    plugin.py    the CNI commands (ADD/DEL/CHECK/VERSION/GC/STATUS); `python -m minik.cni` runs it
    config.py    CNI_* environment and network configuration parsing/validation
    errors.py    CNI error codes and the JSON error result
    ipam.py      host-local IPAM: file-per-IP store under an flock
    bridge.py    the node bridge and pod veth pairs (pyroute2)
    sysctl.py    ip_forward and bridge-nf-call-iptables
    masq.py      pod egress masquerade and forward-accept chains (MINIK-CNI-*)
    invoke.py    exec a plugin through the CNI contract (what containerd's libcni does)
    network.py   CNINetwork: the runtime's NetworkPlugin hook, and the runtime's network flags
    backend.py   peers from Node objects; the cross-node backend interface
    hostgw.py    host-gw backend: a route per peer pod CIDR via the peer's IP
    vxlan.py     vxlan backend: a VXLAN device with static FDB/neighbour entries per peer
    agent.py     the per-node network agent (watches Nodes, writes the CNI config, drives a backend)
    cleanup.py   remove the node's pod network (minik down)
"""
