"""cllcds.api: the REST API (FastAPI, OpenAPI 3) over the store and the services.

``create_app(settings)`` builds the app; ``cllcds serve`` runs it with uvicorn. Errors are
problem+json naming the field and the fix; writes to a course need ``If-Match`` and event posts
take an ``Idempotency-Key``; every endpoint but ``/health`` and CDS Hooks discovery needs a
bearer token or a session cookie (with a CSRF token on unsafe methods).
"""

from ._app import Settings, app_from_env, create_app
from ._auth import CurrentUser, Principal, current_user, require

__all__ = [
    "CurrentUser",
    "Principal",
    "Settings",
    "app_from_env",
    "create_app",
    "current_user",
    "require",
]
