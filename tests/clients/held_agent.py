"""An agent that is held (stopped) between two requests, for the fail-mode tests.

usage: held_agent.py URL1 URL2 CA_FILE TRIGGER_FILE

1. POSTs to URL1 (exit 2 if that fails) and prints "request1 ok".
2. Waits until TRIGGER_FILE exists (exit 4 after 120 s).
3. POSTs to URL2 on a NEW connection (a new httpx.Client). Prints "request2 ok" and
   exits 0 on success; prints the error and exits 3 on failure.
"""

import os
import ssl
import sys
import time

import httpx


def post(url: str, ctx: ssl.SSLContext, body: bytes) -> httpx.Response:
    # A new client per request: a new TCP connection and TLS session each time.
    with httpx.Client(verify=ctx, timeout=30.0) as client:
        resp = client.post(url, content=body, headers={"content-type": "application/json"})
        resp.raise_for_status()
        return resp


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: held_agent.py URL1 URL2 CA_FILE TRIGGER_FILE", file=sys.stderr)
        return 2
    url1, url2, ca, trigger = sys.argv[1:]
    ctx = ssl.create_default_context(cafile=ca)
    try:
        post(url1, ctx, b'{"step":1}')
    except Exception as e:  # noqa: BLE001
        print(f"request1 failed: {type(e).__name__}: {e}", flush=True)
        return 2
    print("request1 ok", flush=True)

    deadline = time.monotonic() + 120
    while not os.path.exists(trigger):
        if time.monotonic() > deadline:
            print("trigger file never appeared", flush=True)
            return 4
        time.sleep(0.02)
    print("trigger seen", flush=True)

    try:
        post(url2, ctx, b'{"step":2}')
    except Exception as e:  # noqa: BLE001
        print(f"request2 failed: {type(e).__name__}: {e}", flush=True)
        return 3
    print("request2 ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
