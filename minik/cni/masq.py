"""Pod egress rules of the CNI plugin: masquerade traffic leaving the cluster, let pod traffic be forwarded.

nat    POSTROUTING -s <node pod CIDR> -> MINIK-CNI-POSTRTG: to the cluster CIDR RETURN (pods see
       each other's real IPs), multicast RETURN, else MASQUERADE (the outside answers the node).
filter FORWARD -> MINIK-CNI-FORWARD: ACCEPT from and to the cluster CIDR (a host whose FORWARD
       policy is DROP, e.g. with Docker, would otherwise drop all pod traffic).

These are separate chains from the proxy's: the proxy rewrites its own MINIK-POSTROUTING in
full on every sync, and a chain must have exactly one owner. Every rule is checked with
`iptables -C` first, so this costs a few cheap commands per ADD and never duplicates a rule.
"""

from __future__ import annotations

import ipaddress
import shlex

from minik.proxy.iptables import IPTables

NAT_CHAIN = "MINIK-CNI-POSTRTG"
FILTER_CHAIN = "MINIK-CNI-FORWARD"
CHAINS = {"nat": NAT_CHAIN, "filter": FILTER_CHAIN}


def desired(subnet: ipaddress.IPv4Network, cluster: ipaddress.IPv4Network) -> dict[str, list[tuple[str, str]]]:
    """{table: [(chain, rule)]} in order; the chains' own rules first, then the jumps into them."""
    comment = '-m comment --comment "minik pod egress"'
    return {
        "nat": [
            (NAT_CHAIN, f"-d {cluster} {comment} -j RETURN"),
            (NAT_CHAIN, f"-d 224.0.0.0/4 {comment} -j RETURN"),
            (NAT_CHAIN, f"{comment} -j MASQUERADE"),
            ("POSTROUTING", f"-s {subnet} {comment} -j {NAT_CHAIN}"),
        ],
        "filter": [
            (FILTER_CHAIN, f"-s {cluster} {comment} -j ACCEPT"),
            (FILTER_CHAIN, f"-d {cluster} {comment} -j ACCEPT"),
            ("FORWARD", f"{comment} -j {FILTER_CHAIN}"),
        ],
    }


def ensure_pod_egress(iptables: IPTables, subnet: ipaddress.IPv4Network, cluster: ipaddress.IPv4Network) -> bool:
    """Make the rules exist exactly once; True if anything had to be written."""
    rules = desired(subnet, cluster)
    stale = {table: [(c, r) for c, r in items if not iptables.check_rule(table, c, shlex.split(r))]
             for table, items in rules.items()}
    if not any(stale.values()):
        return False
    lines = []
    for table, items in rules.items():
        lines.append(f"*{table}")
        if stale[table]:  # declare (flush) our chain and refill it whole; insert the missing jumps
            chain = CHAINS[table]
            lines.append(f":{chain} - [0:0]")
            lines += [f"-A {c} {r}" for c, r in items if c == chain]
            lines += [f"-I {c} 1 {r}" for c, r in stale[table] if c != chain]
        lines.append("COMMIT")
    iptables.restore("\n".join(lines) + "\n")
    return True


def cleanup(iptables: IPTables) -> None:
    """Remove the jumps into the CNI chains and the chains themselves (minik down)."""
    saved = iptables.save()
    lines = []
    for table, chain in CHAINS.items():
        current = saved.get(table)
        lines.append(f"*{table}")
        if current is not None and chain in current.chains:
            for owner, rest in current.rules:
                if owner != chain and rest.endswith(f"-j {chain}"):
                    lines.append(f"-D {owner} {rest}")
            lines += [f":{chain} - [0:0]", f"-X {chain}"]
        lines.append("COMMIT")
    iptables.restore("\n".join(lines) + "\n")
