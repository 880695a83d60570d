"""Troupe's entry point: `python run.py [serve|user|check] …` from source; the binary's too (troupe.spec).

The command line is app/cli.py; `serve` (the default) is web/server.py, imported only when it runs.
"""

from __future__ import annotations

import os
import sys

from app.cli import main
from settings import Settings


def _serve(settings: Settings) -> int:
    from app.startup import pause_gc

    pause_gc()  # web/server.py resumes it once the node is ready
    from web.server import serve

    return serve(settings)


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(sys.argv[1:], serve=_serve))
