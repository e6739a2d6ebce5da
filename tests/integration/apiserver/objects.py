"""Object builders shared by the apiserver tests."""

from __future__ import annotations

from typing import Any


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
