"""Trusting CDS Clients (CDS Hooks 2.0): the EHR's signed JWT, verified against the JWKS of a
configured trusted issuer.

A hook call carries ``Authorization: Bearer <JWT>`` signed by the EHR. The service accepts it
only when

- ``iss`` is one of the trusted issuers configured in ``CLLCDS_CDS_TRUSTED_ISSUERS`` (a JSON
  object ``{"<iss>": "<JWKS URL>"}``, or the path of a file holding one);
- the signature verifies with the key the issuer's JWKS publishes under the token's ``kid``
  (RS384 and ES384, which the specification requires services to support, and their 256/512
  variants; ``none`` and HMAC are never accepted; a ``jku`` header is ignored: keys come only
  from the configured URL);
- ``aud`` is the URL of the service endpoint being called: ``CLLCDS_CDS_SERVICE_BASE`` + the
  path when that is set (behind a proxy), else the URL the request reached;
- ``exp`` has not passed, ``iat`` is present, the lifetime is at most :data:`MAX_LIFETIME_S`;
- ``jti`` has not been seen before (replay), remembered until the token expires.

JWKS are fetched with PyJWT's ``PyJWKClient`` and cached for :data:`JWKS_CACHE_S`. The seen
``jti`` values are kept in the service's database (``Store.remember_jwt``, table ``seen_jwt``)
when the app has a store, so a replay is refused whichever worker process (or host on the same
database) it reaches; only an app without a store falls back to this process's memory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jwt

ISSUERS_ENV = "CLLCDS_CDS_TRUSTED_ISSUERS"
BASE_ENV = "CLLCDS_CDS_SERVICE_BASE"
ALGORITHMS = ("RS384", "ES384", "RS256", "ES256", "RS512", "ES512", "PS384", "PS256")
LEEWAY_S = 30
"""Clock skew allowed on ``exp`` and ``iat`` (a named default; the specification gives none)."""
MAX_LIFETIME_S = 300 + LEEWAY_S
"""CDS Hooks 2.0: the JWT's expiration "SHOULD NOT exceed 5 minutes"; a longer-lived token is
refused."""
JWKS_CACHE_S = 300
"""How long a fetched JWKS is kept before it is fetched again (a named default)."""


class JwtRejectedError(Exception):
    """The bearer JWT is not acceptable; the message says why (for the 401 answer)."""


def trusted_issuers() -> dict[str, str]:
    """``{iss: jwks_url}`` from ``CLLCDS_CDS_TRUSTED_ISSUERS`` (JSON, or a file of JSON)."""
    raw = os.environ.get(ISSUERS_ENV, "").strip()
    if not raw:
        return {}
    if not raw.startswith("{"):
        raw = Path(raw).read_text(encoding="utf-8")
    data = json.loads(raw)
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{ISSUERS_ENV} must be a JSON object of issuer to JWKS URL")
    return dict(data)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


@dataclass
class _Replay:
    seen: dict[str, float]
    lock: threading.Lock

    def check_and_remember(self, key: str, exp: float) -> bool:
        """False when ``key`` was seen and has not expired."""
        now = time.time()
        with self.lock:
            for k in [k for k, e in self.seen.items() if e < now - LEEWAY_S]:
                del self.seen[k]
            if key in self.seen:
                return False
            self.seen[key] = exp
            return True


_REPLAY = _Replay({}, threading.Lock())


@cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_S, timeout=10)


Remember = Callable[[str, float], bool]
"""``(iss|jti, exp)`` → ``False`` when that JWT was already used and has not expired."""


def store_remember(store: Any) -> Remember:
    """The replay check on a store's ``seen_jwt`` table (shared by all processes)."""

    def remember(key: str, exp: float) -> bool:
        expires = dt.datetime.fromtimestamp(exp, dt.UTC)
        return bool(store.remember_jwt(key, expires, grace_s=LEEWAY_S))

    return remember


def verify(token: str, audience: str, remember: Remember | None = None) -> dict[str, Any]:
    """The claims of an EHR's JWT, or :class:`JwtRejectedError` with the reason. ``remember``
    records the ``jti`` (default: this process's memory)."""
    issuers = trusted_issuers()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise JwtRejectedError(f"not a readable JWT ({exc})") from None
    iss = unverified.get("iss")
    if iss not in issuers:
        raise JwtRejectedError(f"issuer {iss!r} is not a trusted issuer of this service")
    if header.get("alg") not in ALGORITHMS:
        raise JwtRejectedError(f"algorithm {header.get('alg')!r} is not accepted")
    if not header.get("kid"):
        raise JwtRejectedError("the JWT header has no kid")
    try:
        key = _jwks_client(issuers[iss]).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientError as exc:
        raise JwtRejectedError(
            f"no key for kid {header.get('kid')!r} in the issuer's JWKS ({exc})"
        ) from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=list(ALGORITHMS),
            audience=audience,
            issuer=iss,
            leeway=LEEWAY_S,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise JwtRejectedError(f"the JWT was refused: {exc}") from None
    if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME_S:
        raise JwtRejectedError("the JWT lives longer than 5 minutes")
    check = remember or _REPLAY.check_and_remember
    if not check(f"{iss}|{claims['jti']}", float(claims["exp"])):
        raise JwtRejectedError("the JWT was already used (jti replay)")
    return claims


def expected_audience(request_url: str, path: str) -> str:
    """The service URL an EHR's JWT must name in ``aud``."""
    base = os.environ.get(BASE_ENV, "").strip().rstrip("/")
    if base:
        return base + path
    return request_url.split("?", 1)[0]
