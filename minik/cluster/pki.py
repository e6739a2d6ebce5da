"""Cluster certificates: a CA and the apiserver's serving certificate.

kubectl and the official client verify the apiserver's certificate against the CA in the kubeconfig,
and pods reach the apiserver as `kubernetes.default.svc` or the first service IP, so the serving
certificate names all of those plus the host's own names and addresses (a lab VM joins by IP).
ECDSA P-256 keeps generation instant, which matters because tests make fresh PKI per session.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CA_DAYS = 3650
CERT_DAYS = 365
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
SERVICE_DNS_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class PkiPaths:
    """Where the PEM files live inside a pki directory."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def apiserver_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.directory / "apiserver.key"


def first_service_ip(service_cidr: str = DEFAULT_SERVICE_CIDR) -> IPAddress:
    """The `kubernetes` Service's ClusterIP: the first address of the service range."""
    return ipaddress.ip_network(service_cidr, strict=False)[1]


def host_addresses() -> list[IPAddress]:
    """The host's own addresses (IPv4 from the kernel's local routes, global IPv6), loopback first."""
    found: list[IPAddress] = [ipaddress.ip_address("127.0.0.1")]
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.strip() == "/32 host LOCAL":
            found.append(ipaddress.ip_address(previous.split()[-1]))
    try:
        for row in Path("/proc/net/if_inet6").read_text().splitlines():
            address = ipaddress.IPv6Address(int(row.split()[0], 16))
            if not address.is_link_local:
                found.append(address)
    except (OSError, ValueError, IndexError):
        pass
    return list(dict.fromkeys(found))


def primary_address() -> str:
    """The address this host uses to reach the world (the default route's source), as kubeadm picks it.

    A UDP connect sends nothing; it only asks the kernel for a route. Without a default route, the
    first non-loopback address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never contacted
            return str(probe.getsockname()[0])
        except OSError:
            pass
    for address in host_addresses():
        if address.version == 4 and not address.is_loopback:
            return str(address)
    return "127.0.0.1"


def host_names() -> list[str]:
    """The host's short and fully qualified names."""
    names = [socket.gethostname(), socket.getfqdn()]
    return [name for name in dict.fromkeys(names) if name and name != "localhost"]


def apiserver_sans(
    service_cidr: str = DEFAULT_SERVICE_CIDR, extra: Iterable[str] = ()
) -> tuple[list[str], list[IPAddress]]:
    """The DNS names and IPs the apiserver certificate must carry; `extra` adds names or IPs."""
    dns = ["localhost", *host_names(), *SERVICE_DNS_NAMES]
    ips = [*host_addresses(), first_service_ip(service_cidr)]
    for item in extra:
        try:
            ips.append(ipaddress.ip_address(item))
        except ValueError:
            dns.append(item)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def generate_ca(common_name: str = "minik-ca") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA that signs the cluster's serving certificates."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_serving_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    dns_names: Iterable[str],
    ips: Iterable[IPAddress],
    common_name: str = "minik-apiserver",
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A TLS server certificate for `dns_names` and `ips`, signed by the CA."""
    key = _new_key()
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    sans += [x509.IPAddress(ip) for ip in ips]
    now = _now()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write a private key readable by its owner only, from the first byte on."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _load_ca(paths: PkiPaths) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    """The existing CA, if both files are there and usable."""
    try:
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc <= _now():
        return None
    return key, cert


def ensure_pki(
    directory: Path, service_cidr: str = DEFAULT_SERVICE_CIDR, extra_sans: Iterable[str] = ()
) -> PkiPaths:
    """Create (or keep) the CA and issue a fresh apiserver certificate in `directory`.

    The CA survives re-runs so kubeconfigs handed out earlier stay valid; the serving certificate is
    re-issued every time because the host's names and addresses may have changed.
    """
    paths = PkiPaths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca = _load_ca(paths)
    if ca is None:
        ca = generate_ca()
        _write_key(paths.ca_key, ca[0])
        _write_cert(paths.ca_cert, ca[1])
    dns, ips = apiserver_sans(service_cidr, extra_sans)
    key, cert = issue_serving_cert(ca[0], ca[1], dns, ips)
    _write_key(paths.apiserver_key, key)
    _write_cert(paths.apiserver_cert, cert)
    return paths


def ca_cert_hash(cert_pem: bytes) -> str:
    """kubeadm's `--discovery-token-ca-cert-hash`: sha256 of the CA's DER SubjectPublicKeyInfo.

    It pins the key, not the certificate, so a re-issued CA certificate with the same key still matches.
    """
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()
