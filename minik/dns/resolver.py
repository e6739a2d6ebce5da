"""Answer cluster names from the records; forward everything else to the node's upstream resolver."""

from __future__ import annotations

import logging
from typing import Any

from dnslib import QTYPE, RCODE, RR, SRV, A, DNSRecord

from minik.dns.records import Records

log = logging.getLogger(__name__)

TTL = 5  # short, like kube-dns: Services change


class ClusterResolver:
    """A dnslib resolver (duck-typed `resolve(request, handler)`)."""

    def __init__(self, records: Records, upstream: tuple[str, int] | None, timeout: float = 3.0) -> None:
        self.records = records
        self.upstream = upstream
        self.timeout = timeout

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        q = request.q
        qname = str(q.qname)
        if not self.records.in_zone(qname):
            return self._forward(request, reply)
        answer = self.records.lookup(qname)
        if answer is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if q.qtype in (QTYPE.A, QTYPE.ANY):
            for ip in answer.addresses:
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        if q.qtype in (QTYPE.SRV, QTYPE.ANY):
            for srv in answer.srv:
                reply.add_answer(RR(qname, QTYPE.SRV, rdata=SRV(0, 100, srv.port, srv.target), ttl=TTL))
        return reply  # NOERROR with no answers for other types (e.g. AAAA), as kube-dns does

    def _forward(self, request: DNSRecord, reply: DNSRecord) -> DNSRecord:
        if self.upstream is None:
            reply.header.rcode = RCODE.REFUSED
            return reply
        try:
            raw = request.send(self.upstream[0], self.upstream[1], timeout=self.timeout)
            return DNSRecord.parse(raw)
        except Exception as exc:  # an unreachable upstream is the client's SERVFAIL, not our crash
            log.info("forwarding %s to %s failed: %s", request.q.qname, self.upstream, exc)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
