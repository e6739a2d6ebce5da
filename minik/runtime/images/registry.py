"""Pulling images over the OCI distribution API (Docker Registry HTTP API v2).

GET /v2/<name>/manifests/<ref> (an image index is narrowed to linux/amd64), then the config and
layer blobs, each verified against its digest as it is stored. Bearer tokens are fetched when the
registry answers 401 with a `WWW-Authenticate: Bearer realm=...` challenge; Basic auth is used when
credentials are given. Registries listed as insecure (and loopback ones, as Docker does) are spoken
to over plain HTTP.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from minik.runtime.images.reference import DOCKER_HUB, Reference, parse_reference
from minik.runtime.images.store import INDEX_TYPES, MANIFEST_TYPES, Image, ImageStore, sha256_digest
from minik.runtime.state import CRIError, log

ACCEPT = ", ".join([*MANIFEST_TYPES, *INDEX_TYPES])
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class RegistryConfig:
    """Per-node registry settings: the default registry for short names and plain-HTTP registries."""

    default_registry: str = DOCKER_HUB
    insecure: list[str] = field(default_factory=list)
    timeout: float = 60.0
    transport: httpx.BaseTransport | None = None  # tests plug a fake registry in here

    def is_insecure(self, host: str) -> bool:
        if host in self.insecure:
            return True
        name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def endpoint(self, host: str) -> str:
        api_host = "registry-1.docker.io" if host == DOCKER_HUB else host
        return f"{'http' if self.is_insecure(host) else 'https'}://{api_host}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest))


class RegistryClient:
    """One repository on one registry, with token handling shared by pull and push."""

    def __init__(self, ref: Reference, config: RegistryConfig, auth: dict[str, Any] | None = None,
                 actions: str = "pull") -> None:
        self.ref = ref
        self.config = config
        self.auth = auth or {}
        self.actions = actions
        self.base = config.endpoint(ref.registry)
        self.http = httpx.Client(timeout=config.timeout, follow_redirects=True, transport=config.transport)
        self.token: str | None = None
        self.basic: tuple[str, str] | None = None
        if self.auth.get("username"):
            self.basic = (str(self.auth["username"]), str(self.auth.get("password", "")))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.base}/v2/{self.ref.repository}/{path}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.auth.get("registry_token"):
            headers["Authorization"] = f"Bearer {self.auth['registry_token']}"
        return headers

    def _authenticate(self, challenge: str) -> bool:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic" and self.basic:
            self.http.auth = httpx.BasicAuth(*self.basic)
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        query = {"service": params.get("service", "")}
        query["scope"] = params.get("scope") or f"repository:{self.ref.repository}:{self.actions}"
        answer = self.http.get(params["realm"], params=query, auth=httpx.BasicAuth(*self.basic) if self.basic else None)
        if answer.status_code != 200:
            raise CRIError(f"token request to {params['realm']} failed: HTTP {answer.status_code}")
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise CRIError(f"token server {params['realm']} returned no token")
        self.token = str(token)
        return True

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, headers=self._headers(headers), **kwargs)
            if response.status_code == 401 and self._authenticate(response.headers.get("www-authenticate", "")):
                response = self.http.request(method, url, headers=self._headers(headers), **kwargs)
        except httpx.HTTPError as error:
            raise CRIError(f"registry {self.ref.registry}: {error}") from error
        if response.status_code == 401:
            raise CRIError(f"registry {self.ref.registry}: unauthorized for {self.ref.repository}")
        return response

    def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index."""
        response = self.request("GET", self.url(f"manifests/{reference}"), {"Accept": ACCEPT})
        if response.status_code == 404:
            raise CRIError(f"{self.ref}: manifest unknown (not found in registry {self.ref.registry})")
        if response.status_code != 200:
            raise CRIError(f"{self.ref}: fetching manifest failed: HTTP {response.status_code} {response.text[:200]}")
        body = response.content
        digest = sha256_digest(body)
        if reference.startswith("sha256:") and digest != reference:
            raise CRIError(f"{self.ref}: manifest digest mismatch ({digest} != {reference})")
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            media_type = str(json.loads(body).get("mediaType") or media_type)
        except ValueError as error:
            raise CRIError(f"{self.ref}: manifest is not JSON") from error
        return body, media_type, digest

    def fetch_blob(self, store: ImageStore, digest: str) -> None:
        """Stream one blob into the store (verified); skipped when the store already has it."""
        if store.has_blob(digest):
            return
        try:
            with self.http.stream("GET", self.url(f"blobs/{digest}"), headers=self._headers()) as response:
                if response.status_code == 401 and self._authenticate(response.headers.get("www-authenticate", "")):
                    response.close()
                    return self.fetch_blob(store, digest)
                if response.status_code != 200:
                    raise CRIError(f"{self.ref}: blob {digest}: HTTP {response.status_code}")
                store.put_blob(_StreamReader(response.iter_bytes(1 << 20)), expected=digest)
        except httpx.HTTPError as error:
            raise CRIError(f"registry {self.ref.registry}: {error}") from error


class _StreamReader:
    """File-like read() over an iterator of chunks."""

    def __init__(self, chunks: Any) -> None:
        self.chunks = iter(chunks)
        self.buffer = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buffer) < n:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        if n < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def select_platform(index: dict[str, Any], os_name: str = "linux", arch: str = "amd64") -> str:
    for desc in index.get("manifests", []):
        platform = desc.get("platform") or {}
        if platform.get("os") == os_name and platform.get("architecture") == arch:
            return str(desc["digest"])
    raise CRIError(f"no {os_name}/{arch} image in the index")


def pull(store: ImageStore, ref: str, config: RegistryConfig, auth: dict[str, Any] | None = None) -> Image:
    """Pull `ref` into the store and return the image (already present blobs are not fetched again)."""
    parsed = parse_reference(ref, config.default_registry)
    with store.lock, RegistryClient(parsed, config, auth) as client:
        try:
            body, media_type, digest = client.get_manifest(parsed.digest or parsed.tag or "latest")
            if media_type in INDEX_TYPES:
                body, media_type, digest = client.get_manifest(select_platform(json.loads(body)))
            if media_type not in MANIFEST_TYPES:
                raise CRIError(f"{parsed}: unsupported manifest type {media_type!r}")
            manifest = json.loads(body)
            client.fetch_blob(store, str(manifest["config"]["digest"]))
            for layer in manifest["layers"]:
                client.fetch_blob(store, str(layer["digest"]))
            image = store.add_image(body, [str(parsed)])
        except BaseException:
            store.gc()
            raise
    log.info("pulled %s as %s (manifest %s)", parsed, image.id, digest)
    return image
