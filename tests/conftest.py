"""Shared fixtures (a real etcd, real apiservers over TLS) and the suite's rules.

Rules enforced here:
- tests using the `etcd` fixture (directly or through `apiserver`, `ns`, `client`) are marked `etcd`;
- tests marked `root` are skipped when not root;
- tests marked `compose` are skipped when Debian's docker-compose (1.29) is not installed;
- with MINIK_STRICT=1 (`make test` sets it) a skipped `etcd`, `root` or `compose` test is a failure, so
  CI can never go green by quietly not running the tests that need a real etcd, a real kernel or a tool
  `make deps` installs.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # `from util import wait_for` in every pytest import mode
    sys.path.insert(0, str(TESTS_DIR))

from util import free_port, wait_for  # noqa: E402

from minik.client.kubeconfig import merge_context  # noqa: E402
from minik.cluster.etcd import Etcd, EtcdError, etcd_binary, start_etcd  # noqa: E402
from minik.cluster.pki import ensure_pki  # noqa: E402
from minik.cluster.tokens import ensure_token_file  # noqa: E402

STRICT_MARKERS = ("etcd", "root", "compose")
APISERVER_FIXTURES = {"apiserver", "apiserver_factory", "ns", "client"}


# ---------------------------------------------------------------- rules


def pytest_configure(config: pytest.Config) -> None:
    """Registered here, next to the strict rule that gives it teeth."""
    config.addinivalue_line(
        "markers", "compose: needs Debian's docker-compose (make deps installs it; runs in CI)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that (transitively) needs the real etcd as `etcd`."""
    for item in items:
        if "etcd" in getattr(item, "fixturenames", ()) and item.get_closest_marker("etcd") is None:
            item.add_marker(pytest.mark.etcd)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") is not None and os.geteuid() != 0:
        pytest.skip("needs root (the kernel parts of minik do): run the suite as root")
    if item.get_closest_marker("compose") is not None and shutil.which("docker-compose") is None:
        pytest.skip("needs docker-compose (`make deps` installs Debian's docker-compose package)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("MINIK_STRICT") == "1":
        marks = [name for name in STRICT_MARKERS if item.get_closest_marker(name) is not None]
        if marks:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            report.outcome = "failed"
            report.longrepr = (
                f"MINIK_STRICT=1: this test is marked {' and '.join(marks)} and must run in CI, "
                f"but it was skipped: {reason}"
            )
    if report.failed and APISERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        for server in list(_launched):
            code = server.process.poll()
            if code is not None:
                report.sections.append(
                    (
                        f"minik apiserver on {server.url} exited with {code}; end of {server.log}",
                        server.log_tail(),
                    )
                )
    return report


# ---------------------------------------------------------------- etcd


def _tempdir(kind: str) -> Path:
    """Test dirs carry the minik prefix like everything else minik leaves on a host."""
    return Path(tempfile.mkdtemp(prefix=f"minik-test-{kind}-"))


@pytest.fixture(scope="session")
def etcd() -> Iterator[Etcd]:
    """A real etcd on free ports in a temp dir, for the whole session; always stopped and removed."""
    try:
        etcd_binary()
    except EtcdError as error:
        pytest.skip(str(error))
    state = _tempdir("etcd")
    try:
        server = start_etcd(state, client_port=free_port(), peer_port=free_port())
    except BaseException:
        shutil.rmtree(state, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


# ---------------------------------------------------------------- apiserver


@dataclass
class ApiServer:
    """A `minik apiserver` subprocess with TLS and a static admin token."""

    url: str
    token: str
    ca_file: str  # a str, not a Path: it goes straight into ssl/httpx/kubernetes-client options
    ca_data: bytes
    kubeconfig: Path
    log: Path
    process: subprocess.Popen[bytes]
    workdir: Path
    _log_handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the cluster CA only (httpx 0.28 wants a context, not a CA path, for `verify`)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def http(self, timeout: float = 10.0) -> httpx.Client:
        """An httpx client that trusts the cluster CA and sends the admin token."""
        return httpx.Client(
            base_url=self.url,
            verify=self.ssl_context(),
            headers=self.headers,
            timeout=timeout,
            trust_env=False,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self in _launched:
            _launched.remove(self)


_launched: list[ApiServer] = []


def _readyz(server: ApiServer) -> str | None:
    """'ready' or 'exited' once settled; None while still starting."""
    if not server.alive():
        return "exited"
    try:
        response = httpx.get(
            f"{server.url}/readyz",
            verify=server.ssl_context(),
            headers=server.headers,
            timeout=2.0,
            trust_env=False,
        )
    except httpx.HTTPError:
        return None
    return "ready" if response.status_code == 200 else None


def launch_apiserver(etcd: Etcd, workdir: Path, extra_args: tuple[str, ...] = ()) -> ApiServer:
    """Start `python -m minik apiserver` against `etcd` on a free port and wait for /readyz."""
    pki = ensure_pki(workdir / "pki")
    token_file = workdir / "tokens.csv"
    token = ensure_token_file(token_file)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    argv = [
        sys.executable, "-m", "minik", "apiserver",
        "--etcd-servers", etcd.endpoint,
        "--bind-address", "127.0.0.1",
        "--secure-port", str(port),
        "--tls-cert-file", str(pki.apiserver_cert),
        "--tls-private-key-file", str(pki.apiserver_key),
        "--token-auth-file", str(token_file),
        "--service-cluster-ip-range", "10.96.0.0/12",
        "--service-node-port-range", "30000-32767",
        *extra_args,
    ]  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    log = workdir / "apiserver.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=workdir
    )
    kubeconfig = workdir / "kubeconfig"
    ca_data = pki.ca_cert.read_bytes()
    merge_context(kubeconfig, "minik", url, token, ca_data)
    server = ApiServer(url, token, str(pki.ca_cert), ca_data, kubeconfig, log, process, workdir, handle)
    _launched.append(server)
    try:
        state = wait_for(lambda: _readyz(server), timeout=60.0, message=f"apiserver {url} /readyz")
    except AssertionError as error:
        server.stop()
        raise AssertionError(f"{error}\n--- end of {log}:\n{server.log_tail()}") from None
    if state != "ready":
        code = process.poll()
        server.stop()
        raise AssertionError(
            f"apiserver exited with {code} during start-up; end of {log}:\n{server.log_tail()}"
        )
    return server


@pytest.fixture(scope="session")
def apiserver(etcd: Etcd) -> Iterator[ApiServer]:
    """The session's apiserver (TLS, admin token) on the session etcd."""
    workdir = _tempdir("apiserver")
    try:
        server = launch_apiserver(etcd, workdir)
        try:
            yield server
        finally:
            server.stop()
    finally:
        if not os.environ.get("MINIK_TEST_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def apiserver_factory(etcd: Etcd) -> Iterator[Callable[..., ApiServer]]:
    """Start extra apiservers with custom flags (e.g. a tiny watch cache); all stopped after the test.

    Each gets its own `--etcd-prefix` unless the flags name one, so its data starts empty.
    """
    started: list[tuple[ApiServer, Path]] = []

    def start(*extra_args: str) -> ApiServer:
        workdir = _tempdir("apiserver")
        args = tuple(extra_args)
        if not any(arg == "--etcd-prefix" or arg.startswith("--etcd-prefix=") for arg in args):
            args += ("--etcd-prefix", f"/minik-test-{uuid.uuid4().hex[:8]}")
        try:
            server = launch_apiserver(etcd, workdir, args)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        started.append((server, workdir))
        return server

    try:
        yield start
    finally:
        for server, workdir in started:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def ns(apiserver: ApiServer) -> Iterator[str]:
    """A fresh namespace named minik-test-<random>, deleted after the test."""
    name = f"minik-test-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    with apiserver.http() as http:
        response = http.post("/api/v1/namespaces", json=body)
        assert response.status_code in (200, 201), f"creating namespace {name}: {response.text}"
        try:
            yield name
        finally:
            http.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def client(apiserver: ApiServer) -> Iterator[Any]:
    """A minik.client.rest.Client for the session apiserver."""
    rest = pytest.importorskip("minik.client.rest")
    with rest.Client(apiserver.url, token=apiserver.token, ca_data=apiserver.ca_data) as api:
        yield api
