"""The FastAPI application factory."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlmodel import Session
from threadpoolctl import threadpool_limits
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from audit.api import router as audit_router
from clearhouse import signing
from clearhouse.accounts.api import router as accounts_router
from clearhouse.body_limits import RequestBodyLimit
from clearhouse.changes import (
    FACE_INDEX,
    REFERENCE_CATALOGUE,
    TEXT_CATALOGUE,
    freshness_for,
    start_listener,
)
from clearhouse.db import build_engine, request_reads
from clearhouse.edge import SecurityHeaders, TrustedHosts
from clearhouse.errors import ClearhouseError, install_problem_handlers, raises
from clearhouse.http_metrics import RequestObservation
from clearhouse.key_history import remember_keys
from clearhouse.keys import KeyRing
from clearhouse.mail.outbox import Mailer
from clearhouse.metrics import router as metrics_router
from clearhouse.migrations import upgrade_installation
from clearhouse.openapi import install_openapi
from clearhouse.portal import UPLOAD_ROUTES as PORTAL_UPLOAD_ROUTES
from clearhouse.portal import install_portal
from clearhouse.query_names import known_query_parameters
from clearhouse.rate_limit import RateLimiter
from clearhouse.request_threads import StallWatch
from clearhouse.settings import Settings
from generator.api import router as generator_router
from generator.runtime import GeneratorRuntime
from generator.worker import start_generation_worker
from licensing.api import UPLOAD_ROUTES as CLEARANCE_UPLOAD_ROUTES
from licensing.api import router as licensing_router
from licensing.offers.api import router as offers_router
from likeness.api import router as likeness_router
from likeness.runtime import LikenessRuntime
from likeness.uploads import UPLOAD_ROUTES
from notifications.api import router as notifications_router
from notifications.tasks import NoticeWorker
from payouts.credit_api import router as credits_router
from payouts.payout_api import router as payouts_router
from payouts.statement_api import router as statements_router
from policies.api import router as policies_router
from rights.api import router as rights_router
from rights.claims.api import UPLOAD_ROUTES as CLAIM_UPLOAD_ROUTES
from rights.claims.api import router as claims_router
from rights.disputes.api import UPLOAD_ROUTES as DISPUTE_UPLOAD_ROUTES
from rights.disputes.api import router as disputes_router
from rights.estates_api import router as estates_router
from rights.invitations_api import router as invitations_router
from rights.matching.clip_embeddings import start_clip_matching
from rights.matching.runtime import start_matching
from rights.matching.warm_up import WarmUp
from rights.members_api import router as members_router
from rights.overlaps.api import router as overlaps_router
from rights.protected.api import router as protected_router
from rights.references.api import UPLOAD_ROUTES as REFERENCE_UPLOAD_ROUTES
from rights.references.api import router as references_router
from rights.references.catalogue import ReferenceCatalogue


def collect_garbage_rarely() -> None:
    """Keep Python's garbage collector off the request path's tail (bench/api.py: p99 of an
    authenticated GET went from ~100 ms to ~30 ms on SQLite). What start-up loaded lives as
    long as the process, so it is frozen out of every collection; a young collection runs
    after 50,000 new container objects, not 700, since a request makes a few thousand and
    nearly all die with it, freed by reference counting."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class NotReady(ClearhouseError):
    """The process serves, but what clearances need is still loading."""

    status_code = 503
    slug = "not-ready"
    title = "Still starting"
    sends_retry_after = True
    headers = {"Retry-After": "2"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # A CLIP model directory that does not load stops the start, saying why.
        clip = start_clip_matching(settings)
        if settings.migrate_on_start:
            upgrade_installation(settings)
        app.state.engine = build_engine(settings.resolved_database_url)
        app.state.read_engine = request_reads(app.state.engine)
        with Session(app.state.engine) as session:
            app.state.keys = remember_keys(session, KeyRing.load(settings))
            session.commit()
        # Catalogues trust what they hold only while this listener is connected, and read
        # their counters otherwise (clearhouse.changes). None on SQLite: counters always.
        app.state.changes = changes = start_listener(settings.resolved_database_url)
        app.state.likeness = LikenessRuntime.start(
            settings=settings,
            engine=app.state.engine,
            freshness=freshness_for(changes, FACE_INDEX),
        )
        # The text catalogue loads on first use, with the model.
        app.state.matching = start_matching(
            settings, freshness=freshness_for(changes, TEXT_CATALOGUE)
        )
        app.state.reference_catalogue = ReferenceCatalogue.start(
            engine=app.state.engine,
            freshness=freshness_for(changes, REFERENCE_CATALOGUE),
            clip=clip,
        )
        app.state.rate_limiter = RateLimiter.from_settings(settings)
        app.state.mailer = Mailer(engine=app.state.engine, settings=settings)
        app.state.notice_worker = (
            NoticeWorker(engine=app.state.engine, mailer=app.state.mailer, settings=settings)
            if settings.notice_worker
            else None
        )
        app.state.generation_worker = (
            start_generation_worker(
                GeneratorRuntime(
                    engine=app.state.engine,
                    settings=settings,
                    keys=app.state.keys,
                    likeness=app.state.likeness,
                    catalogue=app.state.reference_catalogue,
                )
            )
            if settings.generation_worker
            else None
        )
        # Route handlers run on anyio's thread pool; uploads waiting on media work hold one
        # each, so the rest always have `request_threads` of their own; handlers that all wait
        # for one lock are lent more (clearhouse.request_threads).
        request_threads = StallWatch(
            threads=settings.request_threads + app.state.likeness.media_requests_admitted
        )
        request_threads.start()
        threadpool_limits(limits=settings.blas_threads, user_api="blas")  # for the process
        collect_garbage_rarely()
        # What the warm-up loads lives as long as the process too: frozen out of collections
        # once it is there.
        app.state.warm_up = (
            WarmUp.start(
                matching=app.state.matching, engine=app.state.engine, then=collect_garbage_rarely
            )
            if settings.warm_up
            else None
        )
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await request_threads.close()
            if app.state.generation_worker is not None:
                app.state.generation_worker.close()
            if app.state.notice_worker is not None:
                app.state.notice_worker.close()
            app.state.mailer.close()
            app.state.likeness.close()
            app.state.rate_limiter.close()
            if changes is not None:
                changes.close()
            app.state.engine.dispose()

    # FastAPIOffline: /docs loads Swagger UI from this app, no CDN. No /redoc: ReDoc builds
    # code at run time (`new Function`), which the docs' Content-Security-Policy forbids.
    app = FastAPIOffline(
        title="Clearhouse",
        version="0.1.0",
        description="Rights and consent for generative video: register what is yours, "
        "say who may use it, revoke at any moment.",
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        dependencies=[Depends(known_query_parameters)],
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.warm_up = None
    install_problem_handlers(app)
    app.add_middleware(
        RequestBodyLimit,
        default_max_bytes=settings.body_max_bytes,
        route_max_bytes=dict.fromkeys(
            (
                *UPLOAD_ROUTES,
                *REFERENCE_UPLOAD_ROUTES,
                *CLAIM_UPLOAD_ROUTES,
                *DISPUTE_UPLOAD_ROUTES,
                *CLEARANCE_UPLOAD_ROUTES,
                *PORTAL_UPLOAD_ROUTES,
            ),
            settings.scan_max_bytes,
        ),
    )
    if settings.trusted_proxies:
        # The client's address (for rate limits) comes from X-Forwarded-For only via these.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Added last, so it runs first: a request for another host meets nothing else.
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)
    # Outside even Starlette's error middleware, so that a 500 carries the headers too, and
    # is counted and logged with its request id.
    build_middleware_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestObservation(
        SecurityHeaders(build_middleware_stack())
    )
    install_openapi(app)
    # Clearances first: a request is matched against the routes in order, and POST
    # /v1/clearances came 17th of 46, its matching 145 us of the event loop (5 us first; 3,000
    # matches in one process). No other route's path matches one of licensing's, so no request
    # is served otherwise (tests/clearhouse/test_route_order.py).
    app.include_router(licensing_router)
    app.include_router(accounts_router)
    app.include_router(rights_router)
    app.include_router(members_router)
    app.include_router(invitations_router)
    app.include_router(estates_router)
    app.include_router(references_router)
    app.include_router(overlaps_router)
    app.include_router(protected_router)
    app.include_router(claims_router)
    app.include_router(disputes_router)
    app.include_router(audit_router)
    app.include_router(policies_router)
    app.include_router(likeness_router)
    app.include_router(offers_router)
    app.include_router(generator_router)
    app.include_router(credits_router)
    app.include_router(statements_router)
    app.include_router(payouts_router)
    app.include_router(notifications_router)
    app.include_router(metrics_router)
    install_portal(app)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Ready when the database answers and the keys are loaded."""
        with app.state.read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    @raises(NotReady)
    async def readyz() -> dict[str, str]:
        """Ready for traffic: the text checks are loaded (``CLEARHOUSE_WARM_UP``), so no
        clearance waits for them; 503 until then. Without a warm-up, as ready as /healthz."""
        warm_up: WarmUp | None = app.state.warm_up
        if warm_up is not None and not warm_up.ready:
            if warm_up.failure is not None:
                raise NotReady(
                    f"Loading the text checks failed ({warm_up.failure}); clearances load them "
                    "as they need them. See the server's log."
                )
            raise NotReady("The text checks are loading; try again in a few seconds.")
        return {"status": "ready"}

    @app.get("/.well-known/jwks.json", tags=["receipts"])
    def jwks() -> dict[str, list[dict[str, str]]]:
        """Public keys for consent receipts and access tokens (ES256)."""
        keys: KeyRing = app.state.keys
        return signing.jwks({**keys.receipt_keys, **keys.access_keys})

    return app
