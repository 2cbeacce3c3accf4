"""POST a file's bytes with httpx.

usage: httpx_post.py URL CA_FILE BODY_FILE

Prints the response body and exits 0 on a 2xx answer; on any failure prints
`ExceptionName: message` (to stderr) and exits 1.
"""

import ssl
import sys

import httpx


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: httpx_post.py URL CA_FILE BODY_FILE", file=sys.stderr)
        return 2
    url, ca, body_file = sys.argv[1:]
    with open(body_file, "rb") as f:
        body = f.read()
    try:
        ctx = ssl.create_default_context(cafile=ca)
        with httpx.Client(verify=ctx, timeout=30.0) as client:
            resp = client.post(
                url, content=body, headers={"content-type": "application/json"}
            )
            resp.raise_for_status()
    except Exception as e:  # noqa: BLE001 - report any failure by name
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(resp.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
