"""`parley serve | migrate | token`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.config import ConfigError, Settings, check_exposure, load_settings
from gateway.logs import configure_logging, uvicorn_log_config


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.drain import DrainingServer

    host = args.host or settings.parley_host
    try:
        check_exposure(settings, host)
    except ConfigError as error:
        print(f"parley: refusing to start: {error}", file=sys.stderr)
        return 2
    app = create_app(settings)
    config = uvicorn.Config(app, host=host,
                            port=args.port if args.port is not None else settings.parley_port,
                            log_level=settings.log_level, ws_max_size=4 * 1024 * 1024,
                            log_config=uvicorn_log_config())
    try:
        DrainingServer(config, app, settings.drain_s).run()
    except KeyboardInterrupt:  # uvicorn re-raises the signal it shut down for (as uvicorn.run)
        pass
    return 0


def _speech_server(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from audio.server import create_speech_app
    from gateway.engines import build_engines, load_engines

    local = settings.model_copy(update={"stt_provider": "whisper", "tts_provider": "local",
                                        "stt_base_url": None, "tts_base_url": None})
    engines = build_engines(local)
    asyncio.run(load_engines(engines, local))
    app = create_speech_app(engines.stt, engines.tts)
    uvicorn.run(app, host=args.host or "127.0.0.1", port=args.port, log_level=settings.log_level,
                log_config=uvicorn_log_config())
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.app import open_database
    from gateway.storage.migrations import migrate
    from gateway.storage.store import create_pool

    async def run() -> list[int]:
        dsn, embedded = await open_database(settings)
        try:
            pool = await create_pool(dsn, min_size=1, max_size=1)
            async with pool.acquire() as conn:
                applied = await migrate(conn)
            await pool.close()
            return applied
        finally:
            if embedded is not None:
                embedded.stop()

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import mint_token

    if not settings.jwt_secret_key:
        print("parley: JWT_SECRET_KEY must be set to mint a token", file=sys.stderr)
        return 2
    roles = tuple(args.role or ())
    print(mint_token(settings.jwt_secret_key.get_secret_value(), args.user, ttl_s=args.ttl,
                     roles=roles, audience=settings.jwt_audience, issuer=settings.jwt_issuer))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Parley voice gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the gateway (embedded PostgreSQL by default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=_serve)
    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(handler=_migrate)
    speech = sub.add_parser("speech-server", help="serve the offline Whisper and voices over "
                                                  "OpenAI's audio API (for STT_BASE_URL/TTS_BASE_URL)")
    speech.add_argument("--host")
    speech.add_argument("--port", type=int, default=8100)
    speech.set_defaults(handler=_speech_server)
    token = sub.add_parser("token", help="mint an HS256 JWT for a user")
    token.add_argument("--user", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.add_argument("--role", action="append", help="a role claim, e.g. admin")
    token.set_defaults(handler=_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"parley: invalid configuration: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return int(args.handler(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
