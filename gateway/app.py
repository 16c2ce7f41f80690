"""The FastAPI application and its lifespan (database, migrations, engines)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway import admin, data_rights, progress, routes, ws
from gateway.config import Settings
from gateway.engines import build_engines, load_engines
from gateway.headers import SecurityHeaders
from gateway.limits import Limits
from gateway.llm import create_llm
from gateway.logs import install_redaction, quiet_third_party_loggers
from gateway.services import Services
from gateway.session.hub import SessionHub
from gateway.storage import Store
from gateway.storage.embedded import EmbeddedPostgres
from gateway.storage.migrations import migrate
from gateway.storage.store import create_pool

log = logging.getLogger("gateway")
WEB_DIR = Path(__file__).resolve().parent / "web"


async def open_database(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN to use: `DATABASE_URL`, or a private server started in `PARLEY_DATA_DIR`."""
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.parley_data_dir)
    dsn = await asyncio.to_thread(embedded.start)
    log.info("embedded PostgreSQL running in %s", embedded.pgdata)
    return dsn, embedded


def create_app(settings: Settings) -> FastAPI:
    """An app bound to `settings`; everything heavy starts in the lifespan."""
    quiet_third_party_loggers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn, embedded = await open_database(settings)
        pool = await create_pool(dsn)
        llm = create_llm(settings)
        speech = await asyncio.to_thread(build_engines, settings)
        loading = asyncio.create_task(load_engines(speech, settings), name="load-speech-engines")
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            if not settings.jwt_secret_key:
                log.warning("JWT_SECRET_KEY is not set: development mode, no authentication")
            log.info("LLM provider: %s (%s)", llm.provider, llm.model)
            store = Store(pool)
            app.state.services = services = Services(
                settings=settings, store=store, llm=llm,
                limits=Limits(store, settings),
                speech=speech,
            )
            app.state.hub = hub = SessionHub(services)
            services.metrics.live_sessions.set_function(lambda: len(hub))
            for name, engine in [("stt", speech.stt), *((f"tts_{lang}", tts)
                                                        for lang, tts in speech.tts.items())]:
                if (admission := getattr(engine, "admission", None)) is not None:
                    services.metrics.watch_engine(name, admission)
            install_redaction()  # uvicorn has set up its handlers by now
            retention = asyncio.create_task(data_rights.retention_forever(services),
                                            name="retention")
            try:
                yield
            finally:
                retention.cancel()
                await hub.aclose()
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await speech.aclose()
            await llm.aclose()
            await pool.close()
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    app = FastAPI(title="Parley gateway", version="0.1.0", lifespan=lifespan)
    app.include_router(routes.router)
    app.include_router(admin.router)
    app.include_router(data_rights.router)
    app.include_router(progress.router)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        """The browser client: plain HTML, CSS and JavaScript modules, no build step."""
        return FileResponse(WEB_DIR / "index.html")

    app.include_router(ws.router)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        """A 422 naming each field and why, without echoing the input (which may be text that
        cannot even be encoded, such as a lone surrogate)."""
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()]})

    return app
