"""The rights holders' portal: server-rendered pages (Jinja2) from the same app as the API.

Each page module has its own router of :class:`~clearhouse.portal.pages.PageRoute` routes and
calls the same service functions, with the same ownership checks, as the API's routes. The
page's look lives in ``templates/`` and ``static/``; nothing is loaded from another host.
"""

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from clearhouse.errors import NotFound
from clearhouse.portal import (
    account_pages,
    asset_pages,
    audit_pages,
    claim_pages,
    dashboard,
    dispute_pages,
    enrol_pages,
    grant_pages,
    invitation_pages,
    member_pages,
    notice_pages,
    offer_pages,
    overlap_pages,
    payout_pages,
    policy_pages,
    review_pages,
    statement_pages,
    use_pages,
    webhook_pages,
)
from clearhouse.portal.pages import PORTAL_DIR, error_page

ROUTERS = (
    account_pages.router,
    dashboard.router,
    asset_pages.router,
    claim_pages.router,
    dispute_pages.router,
    policy_pages.router,
    statement_pages.router,
    payout_pages.router,
    use_pages.router,
    offer_pages.router,
    grant_pages.router,
    audit_pages.router,
    enrol_pages.router,
    review_pages.router,
    member_pages.router,
    invitation_pages.router,
    overlap_pages.router,
    notice_pages.router,
    webhook_pages.router,
)
# Pages that take media: the body limit of the API's uploads applies to them (app.py).
UPLOAD_ROUTES = (
    *asset_pages.UPLOAD_ROUTES,
    *claim_pages.UPLOAD_ROUTES,
    *dispute_pages.UPLOAD_ROUTES,
    *enrol_pages.UPLOAD_ROUTES,
)


def install_portal(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=PORTAL_DIR / "static"), name="static")
    answer_api = app.exception_handlers[StarletteHTTPException]

    async def not_found_page(request: Request, exc: StarletteHTTPException):
        """A person who typed a wrong address gets a page; a program, the API's problem."""
        if (
            exc.status_code == 404
            and not request.url.path.startswith("/v1/")
            and "text/html" in request.headers.get("accept", "")
        ):
            return error_page(request, NotFound("There is no page at this address."))
        return await answer_api(request, exc)

    app.add_exception_handler(StarletteHTTPException, not_found_page)
