"""The cluster PKI: the CA signs an apiserver certificate that every client name verifies against."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from minik.cluster.pki import SERVICE_DNS_NAMES, PkiPaths, ensure_pki


def _sans(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(san.get_values_for_type(x509.DNSName)), ips


def test_apiserver_cert_names_every_way_clients_reach_it(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    dns, ips = _sans(paths.apiserver_cert)
    assert {"localhost", socket.gethostname(), *SERVICE_DNS_NAMES} <= dns
    assert {"127.0.0.1", "10.96.0.1"} <= ips


def test_service_ip_follows_the_service_range(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki", service_cidr="10.100.0.0/16")
    _, ips = _sans(paths.apiserver_cert)
    assert "10.100.0.1" in ips and "10.96.0.1" not in ips


def test_extra_sans_accept_names_and_addresses(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki", extra_sans=["master.lab", "192.0.2.10"])
    dns, ips = _sans(paths.apiserver_cert)
    assert "master.lab" in dns and ipaddress.ip_address("192.0.2.10").compressed in ips


def test_ca_signs_the_serving_cert_for_server_auth(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(paths.apiserver_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    for key in (paths.ca_key, paths.apiserver_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700


def test_rerun_keeps_the_ca_and_reissues_the_cert(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path / "pki")
    ca_before = first.ca_cert.read_bytes()
    cert_before = first.apiserver_cert.read_bytes()
    second = ensure_pki(tmp_path / "pki")
    assert second.ca_cert.read_bytes() == ca_before
    assert second.apiserver_cert.read_bytes() != cert_before
    ca = x509.load_pem_x509_certificate(ca_before)
    x509.load_pem_x509_certificate(second.apiserver_cert.read_bytes()).verify_directly_issued_by(ca)


def _handshake(paths: PkiPaths, server_hostname: str) -> None:
    """A real TLS handshake over a socket pair, verified against the CA like kubectl does."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(paths.apiserver_cert, paths.apiserver_key)
    client_ctx = ssl.create_default_context(cafile=str(paths.ca_cert))
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(right, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as error:
            errors.append(error)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_ctx.wrap_socket(left, server_hostname=server_hostname) as tls:
            assert tls.recv(2) == b"ok"
    finally:
        thread.join()
        right.close()


@pytest.mark.parametrize("name", ["kubernetes.default.svc", "localhost", "127.0.0.1", "10.96.0.1"])
def test_tls_clients_verify_the_apiserver_by_any_of_its_names(tmp_path: Path, name: str) -> None:
    _handshake(ensure_pki(tmp_path / "pki"), name)


def test_tls_clients_reject_a_name_the_cert_lacks(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ensure_pki(tmp_path / "pki"), "not-the-apiserver.example")
