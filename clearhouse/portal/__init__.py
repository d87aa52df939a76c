"""The rights holders' portal: server-rendered pages (Jinja2) from the same app as the API.

Each page module has its own router of :class:`~clearhouse.portal.pages.PageRoute` routes and
calls the same service functions, with the same ownership checks, as the API's routes. The
page's look lives in ``templates/`` and ``static/``; nothing is loaded from another host.
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from clearhouse.portal import account_pages, dashboard, enrol_pages, review_pages
from clearhouse.portal.pages import PORTAL_DIR

ROUTERS = (
    account_pages.router,
    dashboard.router,
    enrol_pages.router,
    review_pages.router,
)


def install_portal(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PORTAL_DIR / "static"), name="static")
