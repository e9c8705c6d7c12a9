"""cllcds.web: the web app (server-rendered pages over the services; see docs/design.md).

``make_router(current_user=..., get_store=..., require=...)`` gives the pages, mounted by the API
app; ``seed_demo(store)`` creates the demonstration accounts and patients.
"""

from ._demo import DEMO_ACCOUNTS, demo_courses, seed_demo
from ._router import make_router

__all__ = ["DEMO_ACCOUNTS", "demo_courses", "make_router", "seed_demo"]
