"""HS256 JWTs whose `sub` is the user id; an `admin` role claim opens the admin API.

A token must carry `exp` and `iat` (a token that never expires is refused), and `aud` /
`iss` when JWT_AUDIENCE / JWT_ISSUER are set; clocks may differ by LEEWAY_S. Browsers
send the token in the WebSocket's `Sec-WebSocket-Protocol` header (`bearer.<jwt>` next to
`parley.v1`), so it never appears in a URL; `?token=` is still read for old clients, and
redacted from every log line (gateway/logs.py).
"""

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


LEEWAY_S = 30
MIN_SECRET_BYTES = 32
SUBPROTOCOL = "parley.v1"
BEARER_PROTOCOL_PREFIX = "bearer."


@dataclass(frozen=True)
class TokenRules:
    """How tokens are checked: the secret, and the audience and issuer when configured."""

    secret: str
    audience: str | None = None
    issuer: str | None = None


def mint_token(secret: str, user_id: str, *, ttl_s: int = 3600, roles: tuple[str, ...] = (),
               audience: str | None = None, issuer: str | None = None) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + ttl_s}
    if roles:
        claims["roles"] = list(roles)
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(token: str, rules: TokenRules | str) -> Principal:
    if isinstance(rules, str):
        rules = TokenRules(rules)
    required = ["sub", "exp", "iat", *(["aud"] if rules.audience else []),
                *(["iss"] if rules.issuer else [])]
    try:
        claims = jwt.decode(token, rules.secret, algorithms=["HS256"], leeway=LEEWAY_S,
                            audience=rules.audience, issuer=rules.issuer,
                            options={"require": required})
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.MissingRequiredClaimError as error:
        raise AuthError(f"the token has no {error.claim!r} claim") from None
    except jwt.InvalidAudienceError:
        raise AuthError("the token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise AuthError("the token is from another issuer") from None
    except jwt.InvalidTokenError:
        raise AuthError("the token is not valid") from None
    roles = claims.get("roles") or ([claims["role"]] if "role" in claims else [])
    return Principal(str(claims["sub"]), frozenset(str(r) for r in roles))


def token_from_subprotocols(header: str | None) -> str | None:
    """The token a browser put in `Sec-WebSocket-Protocol` as `bearer.<jwt>`."""
    for item in (header or "").split(","):
        item = item.strip()
        if item.startswith(BEARER_PROTOCOL_PREFIX):
            return item[len(BEARER_PROTOCOL_PREFIX):]
    return None


def authenticate(rules: TokenRules | None, *, query_token: str | None, header: str | None,
                 subprotocols: str | None = None) -> Principal:
    """The caller, from `Authorization: Bearer`, the WebSocket subprotocol or (old clients)
    `?token=`; everyone is `dev` without a secret (development mode, loopback only)."""
    if rules is None:
        return DEV_PRINCIPAL
    token = query_token
    if from_protocol := token_from_subprotocols(subprotocols):
        token = from_protocol
    if header and header.lower().startswith("bearer "):
        token = header[7:].strip()
    if not token:
        raise AuthError("a token is required (Authorization: Bearer, or the WebSocket "
                        f"subprotocol '{BEARER_PROTOCOL_PREFIX}<token>')")
    return decode_token(token, rules)
