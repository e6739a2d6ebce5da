"""Remove everything the proxy put into iptables (for `minik down` and `minik proxy --cleanup`).

Works from what iptables-save shows, not from memory, so it also cleans up after a killed proxy.
Only the proxy's own chains (see rules.owned_chain) and the jumps into them are removed.
"""

from __future__ import annotations

from minik.proxy.iptables import IPTables
from minik.proxy.rules import cleanup_payload, owned_chains


def cleanup(iptables: IPTables | None = None) -> int:
    """Delete the proxy's jumps and chains in one atomic restore; returns how many chains went."""
    iptables = iptables or IPTables()
    saved = iptables.save()
    count = sum(len(chains) for chains in owned_chains(saved).values())
    iptables.restore(cleanup_payload(saved))
    return count
