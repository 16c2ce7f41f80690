"""HS256 JWTs whose `sub` is the user id; an `admin` role claim opens the admin API."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

DEV_USER = "dev"


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


DEV_PRINCIPAL = Principal(DEV_USER, frozenset({"admin"}))


class AuthError(Exception):
    """The request carries no usable token."""


def mint_token(secret: str, user_id: str, *, ttl_s: int = 3600, roles: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    if roles:
        claims["roles"] = list(roles)
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub"]})
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.InvalidTokenError:
        raise AuthError("the token is not valid") from None
    roles = claims.get("roles") or ([claims["role"]] if "role" in claims else [])
    return Principal(str(claims["sub"]), frozenset(str(r) for r in roles))


def authenticate(secret: str | None, *, query_token: str | None, header: str | None) -> Principal:
    """The caller, from `?token=` or `Authorization: Bearer`; everyone is `dev` without a secret."""
    if secret is None:
        return DEV_PRINCIPAL
    token = query_token
    if header and header.lower().startswith("bearer "):
        token = header[7:].strip()
    if not token:
        raise AuthError("a token is required (?token= or Authorization: Bearer)")
    return decode_token(token, secret)
