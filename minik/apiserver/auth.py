"""Bearer-token authentication from a Kubernetes static token file (token,user,uid,"groups")."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default=())


ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None) -> None:
        # None means authentication is off (development servers and unit tests only)
        self.tokens = tokens

    @classmethod
    def from_file(cls, path: str | None) -> TokenAuthenticator:
        if not path:
            return cls(None)
        tokens: dict[str, UserInfo] = {}
        with Path(path).open(newline="") as fh:
            for row in csv.reader(fh):
                if len(row) < 2 or not row[0].strip() or row[0].startswith("#"):
                    continue
                groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
                tokens[row[0].strip()] = UserInfo(row[1].strip(), row[2].strip() if len(row) > 2 else "", groups)
        return cls(tokens)

    @property
    def enabled(self) -> bool:
        return self.tokens is not None

    def authenticate(self, authorization: str | None) -> UserInfo | None:
        """The user for an Authorization header, or None when it must be refused."""
        if self.tokens is None:
            return ANONYMOUS
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.tokens.get(token.strip())
