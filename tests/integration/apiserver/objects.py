"""Object builders shared by the apiserver tests."""

from __future__ import annotations

import ssl
from typing import Any

import httpx


class APIClient(httpx.Client):
    """An httpx client that can open an independent twin: a watch stream read on another thread
    gets its own connection rather than sharing (and racing on) this client's pool."""

    def __init__(self, url: str, token: str, ca_file: str, timeout: float | None = 30) -> None:
        self._settings = (url, token, ca_file)
        super().__init__(base_url=url, headers={"Authorization": f"Bearer {token}"},
                         verify=ssl.create_default_context(cafile=ca_file), timeout=timeout)

    def twin(self, timeout: float | None = None) -> APIClient:
        return APIClient(*self._settings, timeout=timeout)


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
