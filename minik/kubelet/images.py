"""Image pulls per imagePullPolicy, with back-off (the kubelet's images.imageManager).

Always pulls every time, IfNotPresent only when the image is missing, Never never pulls. A failed pull
is ErrImagePull, and further pulls wait out a back-off (ImagePullBackOff) with the runtime's message.
No public registry is reachable in the labs, so for Always an image already in the node's store is used
when the registry cannot deliver it (the lab images are built locally); Kubernetes would fail there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from minik.api.defaults import image_pull_policy_for
from minik.kubelet import podutil
from minik.kubelet.backoff import Backoff
from minik.kubelet.status import WaitingReason
from minik.kubelet.types import ERR_IMAGE_NEVER_PULL, ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF, Obj
from minik.runtime.state import CRIError

log = logging.getLogger(__name__)

EventFunc = Callable[[Obj, str, str, str], None]


class ImageService(Protocol):
    def image_status(self, image: dict[str, Any], verbose: bool = False) -> dict[str, Any]: ...

    def pull_image(self, image: dict[str, Any], auth: dict[str, Any] | None = None,
                   sandbox_config: dict[str, Any] | None = None) -> str: ...


class ImagePullError(Exception):
    def __init__(self, waiting: WaitingReason) -> None:
        super().__init__(waiting.message or waiting.reason)
        self.waiting = waiting


class ImageManager:
    def __init__(self, runtime: ImageService, event: EventFunc, backoff: Backoff) -> None:
        self.runtime = runtime
        self.event = event
        self.backoff = backoff

    def _present(self, image: str) -> Obj | None:
        found = self.runtime.image_status({"image": image}).get("image")
        return found if isinstance(found, dict) else None

    def ensure_image_exists(self, pod: Obj, container: Obj) -> str:
        """The image id to create the container from, or ImagePullError with the waiting reason."""
        image = str(container.get("image") or "")
        if not image:
            raise ImagePullError(WaitingReason("InvalidImageName", "the container has no image"))
        policy = str(container.get("imagePullPolicy") or image_pull_policy_for(image))
        present = self._present(image)
        present_message = f'Container image "{image}" already present on machine'
        if policy == "Never":
            if present is not None:
                self.event(pod, "Normal", "Pulled", present_message)
                return str(present.get("id") or image)
            message = f'Container image "{image}" is not present with pull policy of Never'
            self.event(pod, "Warning", ERR_IMAGE_NEVER_PULL, message)
            raise ImagePullError(WaitingReason(ERR_IMAGE_NEVER_PULL, message))
        if policy != "Always" and present is not None:
            self.event(pod, "Normal", "Pulled", present_message)
            return str(present.get("id") or image)
        key = f"{podutil.uid(pod)}_{image}"
        if self.backoff.is_in_backoff_since(key, time.time()):
            message = f'Back-off pulling image "{image}"'
            self.event(pod, "Normal", "BackOff", message)
            self.event(pod, "Warning", "Failed", f"Error: {IMAGE_PULL_BACK_OFF}")
            raise ImagePullError(WaitingReason(IMAGE_PULL_BACK_OFF, message))
        self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            image_id = self.runtime.pull_image({"image": image})
        except CRIError as error:
            if present is not None:
                log.info("pulling %s failed (%s): using the node's copy", image, error)
                self.event(pod, "Normal", "Pulled", present_message)
                return str(present.get("id") or image)
            self.backoff.next(key, time.time())
            message = f'Failed to pull image "{image}": {error}'
            self.event(pod, "Warning", "Failed", message)
            self.event(pod, "Warning", "Failed", f"Error: {ERR_IMAGE_PULL}")
            raise ImagePullError(WaitingReason(ERR_IMAGE_PULL, message)) from None
        self.backoff.delete(key)
        took = time.monotonic() - started
        pulled = self._present(image) or {}
        size = int(pulled.get("size") or 0)
        self.event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s '
                                            f"({took:.3f}s including waiting). Image size: {size} bytes.")
        return image_id
