"""Run the intake endpoints on their own: `python -m core.intake.serve_standalone [--host H] [--port P]`.

Settings come from the usual sources (SHERLOG_* env, sherlog.toml); the stack
(stores, Ingestor) is opened before the port is bound, so once `/health`
answers, ingestion is ready. `sherlog serve` is the full server; this entry is
for tests and for running an intake-only process.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from core.intake.http import create_intake_app
from core.settings import load_settings
from core.wiring import open_stack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", help="address to bind [default: server.host]")
    parser.add_argument("--port", type=int, help="port to bind [default: server.port]")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    settings = load_settings()
    stack = open_stack(settings)
    app = create_intake_app(settings, stack, warm=True)
    config = uvicorn.Config(
        app,
        host=args.host or settings.server.host,
        port=args.port or settings.server.port,
        log_level=args.log_level,
        access_log=False,
    )
    try:
        asyncio.run(uvicorn.Server(config).serve())
    finally:
        stack.close()


if __name__ == "__main__":
    main()
