"""Render the proxy's whole iptables state as one `iptables-restore --noflush` payload.

The layout follows kube-proxy's iptables mode (chains renamed KUBE- -> MINIK-):

nat   PREROUTING, OUTPUT -> MINIK-SERVICES    POSTROUTING -> MINIK-POSTROUTING
      MINIK-SERVICES: per service port `-d clusterIP --dport p -j MINIK-SVC-x` (and external IPs),
                      last: local destinations -> MINIK-NODEPORTS
      MINIK-SVC-x:    traffic from outside the cluster CIDR gets the masquerade mark, then a
                      cascade `statistic --probability 1/n, 1/(n-1), ... , 1` over MINIK-SEP-y
                      (ClientIP affinity: `recent --rcheck` rules first, one per endpoint)
      MINIK-SEP-y:    hairpin (source is the endpoint itself) -> mark, then DNAT to ip:port
      MINIK-NODEPORTS: `--dport nodePort` -> mark, -> MINIK-SVC-x
      MINIK-MARK-MASQ / MINIK-POSTROUTING: set the mark / masquerade what carries it
filter INPUT -> MINIK-EXTERNAL-SERVICES   FORWARD, OUTPUT -> MINIK-SERVICES   FORWARD -> MINIK-FORWARD
      services without ready endpoints REJECT new connections (ICMP port unreachable) at once,
      instead of letting clients time out.

Every chain the proxy owns is declared in each payload, which flushes and refills it atomically;
chains it owned before but no longer renders are flushed and deleted in the same payload. Jump
rules from the built-in chains are added only when missing, so restarts never duplicate them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from minik.proxy.iptables import SavedTable, jump_target
from minik.proxy.serviceport import Endpoint, ProxyState, ServicePort, ServicePortName

PREFIX = "MINIK-"
SERVICES = "MINIK-SERVICES"
EXTERNAL_SERVICES = "MINIK-EXTERNAL-SERVICES"
NODEPORTS = "MINIK-NODEPORTS"
POSTROUTING = "MINIK-POSTROUTING"
MARK_MASQ = "MINIK-MARK-MASQ"
FORWARD = "MINIK-FORWARD"
SVC_PREFIX = "MINIK-SVC-"
SEP_PREFIX = "MINIK-SEP-"

NAT_FIXED = (SERVICES, NODEPORTS, POSTROUTING, MARK_MASQ)
FILTER_FIXED = (SERVICES, EXTERNAL_SERVICES, FORWARD)


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain that sends traffic into one of ours."""

    table: str
    chain: str
    target: str
    match: str  # iptables arguments before `-j target`

    @property
    def rule(self) -> str:
        return f"{self.match} -j {self.target}"


# In the order they should end up in their chain (each is inserted at the top when missing).
JUMPS = (
    Jump("nat", "PREROUTING", SERVICES, '-m comment --comment "minik service portals"'),
    Jump("nat", "OUTPUT", SERVICES, '-m comment --comment "minik service portals"'),
    Jump("nat", "POSTROUTING", POSTROUTING, '-m comment --comment "minik postrouting rules"'),
    Jump("filter", "INPUT", EXTERNAL_SERVICES,
         '-m conntrack --ctstate NEW -m comment --comment "minik externally-visible service portals"'),
    Jump("filter", "FORWARD", SERVICES, '-m conntrack --ctstate NEW -m comment --comment "minik service portals"'),
    Jump("filter", "FORWARD", FORWARD, '-m comment --comment "minik forwarding rules"'),
    Jump("filter", "OUTPUT", SERVICES, '-m conntrack --ctstate NEW -m comment --comment "minik service portals"'),
)


def owned_chain(name: str) -> bool:
    """Chains this proxy owns (and may flush or delete); other MINIK- chains (the CNI's) are not."""
    return name in NAT_FIXED or name in FILTER_FIXED or name.startswith((SVC_PREFIX, SEP_PREFIX))


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def svc_chain(name: ServicePortName) -> str:
    return SVC_PREFIX + _hash(f"{name}{name.protocol}")


def sep_chain(name: ServicePortName, endpoint: Endpoint) -> str:
    return SEP_PREFIX + _hash(f"{name}{name.protocol}{endpoint}")


def probability(n: int) -> str:
    """The statistic probability that picks 1 of n remaining endpoints uniformly (kube-proxy's format)."""
    return f"{1.0 / n:0.10f}"


@dataclass
class ProxyConfig:
    """What shapes the rules besides the Services: where the cluster is and which mark means SNAT."""

    cluster_cidr: str | None = None  # traffic from outside it to a ClusterIP is masqueraded
    masquerade_all: bool = False
    masquerade_bit: int = 14

    @property
    def mark(self) -> str:
        return f"0x{1 << self.masquerade_bit:x}"


@dataclass
class Ruleset:
    """The chains and rules of each table; `payload()` turns it into iptables-restore input."""

    chains: dict[str, list[str]] = field(default_factory=lambda: {"filter": [], "nat": []})
    rules: dict[str, list[str]] = field(default_factory=lambda: {"filter": [], "nat": []})

    def add(self, table: str, chain: str, rule: str) -> None:
        self.rules[table].append(f"-A {chain} {rule}")

    def chain(self, table: str, name: str) -> None:
        self.chains[table].append(name)

    def payload(self, stale: dict[str, set[str]] | None = None, jumps: Iterable[Jump] = (),
                unchanged: dict[str, set[str]] | None = None) -> str:
        """iptables-restore --noflush input: declare (flush) all chains, fill them, drop `stale`
        chains, insert the given (missing) jumps. Chains in `unchanged` are left out entirely:
        --noflush keeps them as they are, which is what makes a partial sync cheap."""
        stale = stale or {}
        unchanged = unchanged or {}
        jumps = list(jumps)
        lines: list[str] = []
        for table in ("filter", "nat"):
            lines.append(f"*{table}")
            gone = sorted(stale.get(table, set()) - set(self.chains[table]))
            skip = unchanged.get(table, set())
            lines += [f":{c} - [0:0]" for c in [*self.chains[table], *gone] if c not in skip]
            lines += [rule for rule in self.rules[table] if rule.split(" ", 2)[1] not in skip] if skip \
                else self.rules[table]
            lines += [f"-X {c}" for c in gone]
            for jump in reversed([j for j in jumps if j.table == table]):
                lines.append(f"-I {jump.chain} 1 {jump.rule}")
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def all_chains(self, table: str) -> set[str]:
        return set(self.chains[table])

    def chain_rules(self, table: str) -> dict[str, tuple[str, ...]]:
        """Each chain's rules, in order (an empty chain maps to ())."""
        grouped: dict[str, list[str]] = {chain: [] for chain in self.chains[table]}
        for rule in self.rules[table]:
            grouped.setdefault(rule.split(" ", 2)[1], []).append(rule)
        return {chain: tuple(rules) for chain, rules in grouped.items()}


def per_service_chain(name: str) -> bool:
    """A MINIK-SVC-*/MINIK-SEP-* chain: the only ones a partial sync may leave untouched, because
    the fixed chains that jump to them are always rewritten."""
    return name.startswith((SVC_PREFIX, SEP_PREFIX))


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


def _proto(port: ServicePort) -> str:
    p = port.protocol.lower()
    return f"-m {p} -p {p}"


def render(state: ProxyState, config: ProxyConfig) -> Ruleset:
    """All of the proxy's rules for `state`: a pure function, so it is tested on its text."""
    rs = Ruleset()
    for chain in NAT_FIXED:
        rs.chain("nat", chain)
    for chain in FILTER_FIXED:
        rs.chain("filter", chain)
    mark = config.mark
    rs.add("nat", POSTROUTING, f"-m mark ! --mark {mark}/{mark} -j RETURN")
    rs.add("nat", POSTROUTING, f"-j MARK --xor-mark {mark}")  # a packet may be re-routed: clear it
    rs.add("nat", POSTROUTING, f"{_comment('minik service traffic requiring SNAT')} -j MASQUERADE")
    rs.add("nat", MARK_MASQ, f"-j MARK --or-mark {mark}")
    rs.add("filter", FORWARD, "-m conntrack --ctstate INVALID -j DROP")
    rs.add("filter", FORWARD, f"{_comment('minik forwarding rules')} -m mark --mark {mark}/{mark} -j ACCEPT")
    rs.add("filter", FORWARD,
           f"{_comment('minik forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    for port in state.ports:
        _render_port(rs, port, state.endpoints_of(port), config)
    rs.add("nat", SERVICES,
           f"{_comment('minik service nodeports; NOTE: this must be the last rule in this chain')} "
           f"-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j {NODEPORTS}")
    return rs


def _render_port(rs: Ruleset, port: ServicePort, endpoints: list[Endpoint],
                 config: ProxyConfig) -> None:
    name, proto = str(port.name), _proto(port)
    dst = f"-d {port.cluster_ip}/32 --dport {port.port}"
    if not endpoints:  # reject at once instead of a black hole
        reject = "-j REJECT --reject-with icmp-port-unreachable"
        rs.add("filter", SERVICES, f"{_comment(f'{name} has no endpoints')} {proto} {dst} {reject}")
        for ip in port.external_ips:
            rs.add("filter", EXTERNAL_SERVICES,
                   f"{_comment(f'{name} has no endpoints')} {proto} -d {ip}/32 --dport {port.port} {reject}")
        if port.node_port:
            rs.add("filter", EXTERNAL_SERVICES,
                   f"{_comment(f'{name} has no endpoints')} -m addrtype --dst-type LOCAL "
                   f"{proto} --dport {port.node_port} {reject}")
        return
    svc = svc_chain(port.name)
    rs.chain("nat", svc)
    cluster = _comment(f"{name} cluster IP")
    rs.add("nat", SERVICES, f"{cluster} {proto} {dst} -j {svc}")
    if config.masquerade_all:
        rs.add("nat", svc, f"{cluster} {proto} {dst} -j {MARK_MASQ}")
    elif config.cluster_cidr:  # from outside the pod network (e.g. the node itself): reply must come back
        rs.add("nat", svc, f"{cluster} {proto} {dst} ! -s {config.cluster_cidr} -j {MARK_MASQ}")
    for ip in port.external_ips:
        external = _comment(f"{name} external IP")
        rs.add("nat", SERVICES, f"{external} {proto} -d {ip}/32 --dport {port.port} -j {MARK_MASQ}")
        rs.add("nat", SERVICES, f"{external} {proto} -d {ip}/32 --dport {port.port} -j {svc}")
    if port.node_port:
        rs.add("nat", NODEPORTS, f"{_comment(name)} {proto} --dport {port.node_port} -j {MARK_MASQ}")
        rs.add("nat", NODEPORTS, f"{_comment(name)} {proto} --dport {port.node_port} -j {svc}")
    seps = [(ep, sep_chain(port.name, ep)) for ep in endpoints]
    affinity = port.affinity_timeout
    if affinity:  # a client seen recently goes back to the endpoint it got last time
        for ep, sep in seps:
            rs.add("nat", svc, f"{_comment(f'{name} -> {ep}')} -m recent --name {sep} --mask 255.255.255.255 "
                               f"--rsource --rcheck --seconds {affinity} --reap -j {sep}")
    for i, (ep, sep) in enumerate(seps):
        remaining = len(seps) - i
        pick = "" if remaining == 1 else f"-m statistic --mode random --probability {probability(remaining)} "
        rs.add("nat", svc, f"{_comment(f'{name} -> {ep}')} {pick}-j {sep}")
    for ep, sep in seps:
        rs.chain("nat", sep)
        rs.add("nat", sep, f"{_comment(name)} -s {ep.ip}/32 -j {MARK_MASQ}")  # hairpin: pod to itself
        remember = f"-m recent --name {sep} --mask 255.255.255.255 --rsource --set " if affinity else ""
        rs.add("nat", sep, f"{_comment(name)} {remember}{proto} -j DNAT --to-destination {ep}")



def missing_jumps(saved: dict[str, SavedTable]) -> list[Jump]:
    """The jumps from built-in chains not present yet (per iptables-save)."""
    return [j for j in JUMPS if not saved.get(j.table, SavedTable()).jumps(j.chain, j.target)]


def owned_chains(saved: dict[str, SavedTable]) -> dict[str, set[str]]:
    return {table: {c for c in saved.get(table, SavedTable()).chains if owned_chain(c)} for table in ("filter", "nat")}


def cleanup_payload(saved: dict[str, SavedTable]) -> str:
    """Remove every jump into our chains from the built-in chains, then flush and delete our chains."""
    lines: list[str] = []
    for table in ("filter", "nat"):
        current = saved.get(table, SavedTable())
        ours = sorted(c for c in current.chains if owned_chain(c))
        lines.append(f"*{table}")
        for chain, rest in current.rules:
            target = jump_target(rest)
            if not owned_chain(chain) and target is not None and owned_chain(target):
                lines.append(f"-D {chain} {rest}")
        lines += [f":{c} - [0:0]" for c in ours]
        lines += [f"-X {c}" for c in ours]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"
