"""One minictl invocation's connection settings: kubeconfig plus the global flags that override it.

Like kubectl: --server/--token/--insecure-skip-tls-verify override the context, -n overrides the
context's namespace, and with no kubeconfig at all the client talks to http://localhost:8080
(so the error is kubectl's familiar "connection to the server localhost:8080 was refused").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.client.kubeconfig import DEFAULT_NAMESPACE, ClusterConfig, ConfigError, default_path, load, read_raw
from minik.client.rest import Client
from minik.ctl.errors import CtlError, error

FALLBACK_SERVER = "http://localhost:8080"
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def parse_timeout(text: str | None) -> float | None:
    """--request-timeout: `0` (no timeout), `30`, `5s`, `1m`, `2h`."""
    if text is None:
        return None
    m = _DURATION_RE.match(text.strip())
    if not m:
        raise error("Invalid timeout value. Timeout must be a single integer in seconds, or an integer "
                    "followed by a corresponding time unit (e.g. 1s | 2m | 3h)")
    value = float(m.group(1))
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]
    return value * scale


def _client_timeout(timeout: float | None) -> float:
    """No flag: the client's 30s default; `0` means no timeout (a day stands in for infinity)."""
    if timeout is None:
        return 30.0
    return timeout or 86400.0


@dataclass
class Session:
    """Lazily resolved kubeconfig + client; commands that never talk to a server never load it."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace_flag: str | None = None
    server: str | None = None
    token: str | None = None
    insecure: bool = False
    request_timeout: str | None = None
    _config: ClusterConfig | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args: Any) -> Session:
        return cls(kubeconfig=getattr(args, "kubeconfig", None), context=getattr(args, "context", None),
                   namespace_flag=getattr(args, "namespace", None), server=getattr(args, "server", None),
                   token=getattr(args, "token", None),
                   insecure=bool(getattr(args, "insecure_skip_tls_verify", False)),
                   request_timeout=getattr(args, "request_timeout", None))

    @property
    def kubeconfig_path(self) -> Path:
        return Path(self.kubeconfig).expanduser() if self.kubeconfig else default_path()

    def config(self) -> ClusterConfig:
        if self._config is None:
            self._config = self._resolve()
        return self._config

    def _resolve(self) -> ClusterConfig:
        path = self.kubeconfig_path
        cfg: ClusterConfig | None = None
        if self.context and not self._has_context(path):
            raise CtlError(f"Error in configuration: context was not found for specified context: {self.context}")
        if path.exists():
            try:
                cfg = load(path, self.context)
            except ConfigError as e:
                if not self.server:
                    raise error(str(e)) from e
        elif self.kubeconfig:
            raise error(f"stat {self.kubeconfig}: no such file or directory")
        if cfg is None:
            cfg = ClusterConfig(server=self.server or FALLBACK_SERVER)
        if self.server:
            cfg.server = self.server.rstrip("/")
        if self.token:
            cfg.token = self.token
        if self.insecure:
            cfg.insecure_skip_tls_verify = True
        return cfg

    def _has_context(self, path: Path) -> bool:
        try:
            raw = read_raw(path)
        except ConfigError:
            return True  # let load() report the broken file
        return any(isinstance(c, dict) and c.get("name") == self.context for c in raw.get("contexts") or [])

    @property
    def client(self) -> Client:
        if self._client is None:
            cfg = self.config()
            timeout = parse_timeout(self.request_timeout)
            try:
                client = Client(cfg.server, token=cfg.token, ca_data=cfg.ca_data,
                                insecure=cfg.insecure_skip_tls_verify,
                                timeout=_client_timeout(timeout), user_agent="minictl",
                                client_cert=cfg.client_cert, client_key=cfg.client_key)
            except ConfigError as e:
                raise error(str(e)) from e
            client.config = cfg
            self._client = client
        return self._client

    @property
    def namespace(self) -> str:
        """-n, else the context's namespace, else `default`."""
        if self.namespace_flag:
            return self.namespace_flag
        try:
            return self.config().namespace or DEFAULT_NAMESPACE
        except CtlError:
            return DEFAULT_NAMESPACE

    @property
    def explicit_namespace(self) -> bool:
        return bool(self.namespace_flag)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
