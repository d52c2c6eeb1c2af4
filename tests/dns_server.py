"""A DNS server on 127.0.0.1 for tests (dnslib), serving the zones a test writes.

    with dns_server({"example.com": [("TXT", "v=spf1 -all"), ("MX", "10 mx.example.com")]})
        as nameserver:   # "127.0.0.1:PORT", for CHAIRSIDE_NAMESERVER

Records are (type, value) per name: A, AAAA, MX ("PREF HOST"), CNAME, TXT (long values are
cut into 255-byte strings, as DNS hosts publish DKIM keys), and ("SERVFAIL", "") makes every
question about that name fail. A CNAME is followed, as a recursive resolver does. Names not
in the zones are NXDOMAIN. `dead_dns_server()` is a socket that never answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Zones = dict[str, list[tuple[str, str]]]


def _rdata(kind: str, value: str):
    if kind == "A":
        return A(value)
    if kind == "AAAA":
        return AAAA(value)
    if kind == "CNAME":
        return CNAME(value)
    if kind == "MX":
        preference, host = value.split()
        return MX(host, int(preference))
    if kind == "TXT":
        data = value.encode()
        return TXT([data[i : i + 255] for i in range(0, len(data), 255)] or [b""])
    raise ValueError(kind)


class ZoneResolver(BaseResolver):
    def __init__(self, zones: Zones) -> None:
        self.zones = {name.lower().rstrip("."): records for name, records in zones.items()}
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        kind = QTYPE[request.q.qtype]
        self.asked.append((name, kind))
        for _ in range(8):  # follow CNAMEs
            records = self.zones.get(name)
            if records is None:
                reply.header.rcode = RCODE.NXDOMAIN if not reply.rr else RCODE.NOERROR
                return reply
            if any(k == "SERVFAIL" for k, _ in records):
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            cname = [v for k, v in records if k == "CNAME"]
            if cname and kind != "CNAME":
                reply.add_answer(RR(DNSLabel(name), QTYPE.CNAME, rdata=CNAME(cname[0]), ttl=60))
                name = cname[0].lower().rstrip(".")
                continue
            for k, value in records:
                if k == kind:
                    reply.add_answer(RR(DNSLabel(name), QTYPE.reverse[k], rdata=_rdata(k, value)))
            return reply
        return reply


@contextmanager
def dns_server(zones: Zones) -> Iterator[str]:
    """Serve `zones` over UDP and TCP on 127.0.0.1; yields "127.0.0.1:PORT"."""
    resolver = ZoneResolver(zones)
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", logf=print)
    for _ in range(20):  # a free UDP port whose TCP twin is free too (others run tests)
        udp = DNSServer(resolver, address="127.0.0.1", port=0, logger=quiet)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=quiet)
            break
        except OSError:
            udp.server.server_close()
    else:
        raise RuntimeError("no free port for the test DNS server")
    udp.start_thread()
    tcp.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        udp.stop()
        tcp.stop()
        udp.server.server_close()
        tcp.server.server_close()


@contextmanager
def dead_dns_server() -> Iterator[str]:
    """A UDP port on 127.0.0.1 that receives questions and never answers them."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sink.getsockname()[1]}"
