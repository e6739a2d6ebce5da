"""Base model shared by every API object: camelCase on the wire, unknown fields kept."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class K8sModel(BaseModel):
    """Kubernetes wire shape: camelCase keys, extra keys preserved so round trips lose nothing."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        alias_generator=to_camel,
        validate_assignment=False,
        protected_namespaces=(),
    )

    def to_dict(self) -> dict[str, Any]:
        """Wire form: aliases, no unset optionals."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)
