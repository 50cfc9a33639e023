"""Serve the RAG example app on 127.0.0.1 with uvicorn, or wait until it answers.

    python examples/rag/serve.py --port 8765 &      # start it
    python examples/rag/serve.py --port 8765 --wait # block until /health answers (60 s at most)
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def wait(url: str, seconds: float) -> bool:
    """Poll ``url`` until it answers 200, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--wait", action="store_true",
                        help="wait for a running server instead of starting one")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds --wait waits at most")
    args = parser.parse_args(argv)
    if args.wait:
        url = f"http://{args.host}:{args.port}/health"
        if wait(url, args.timeout):
            return 0
        print(f"The RAG app did not answer at {url} within {args.timeout:.0f} s.",
              file=sys.stderr)
        return 1
    import uvicorn
    from app import app

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
