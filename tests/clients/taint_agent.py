"""An agent that reads a customer record and then tries to post it elsewhere.

usage: taint_agent.py RECORD_URL TOOL_URL CA_FILE

1. GETs RECORD_URL (a JSON customer record) and prints {"step": "read", "ok": true,
   "status": ...} (exit 2 if that fails).
2. POSTs {"text": "<name>, <email>, account <account_number>, <address>"} to TOOL_URL
   and prints {"step": "post", "ok": bool, ...}.
Exits 0 if the POST succeeded, 3 if it failed. One process, a new connection per request.
"""

import json
import ssl
import sys

import httpx


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def describe(e: Exception) -> str:
    cause = e.__cause__ or e.__context__
    extra = f" (caused by {type(cause).__name__}: {cause})" if cause else ""
    return f"{type(e).__name__}: {e}{extra}"


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: taint_agent.py RECORD_URL TOOL_URL CA_FILE", file=sys.stderr)
        return 2
    record_url, tool_url, ca = sys.argv[1:]
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with httpx.Client(verify=ctx, timeout=30.0) as client:
            resp = client.get(record_url)
            resp.raise_for_status()
            record = resp.json()
    except Exception as e:  # noqa: BLE001
        emit(step="read", ok=False, error=describe(e))
        return 2
    emit(step="read", ok=True, status=resp.status_code)

    text = (
        f"Customer follow-up: {record['name']}, {record['email']}, "
        f"account {record['account_number']}, {record['address']}"
    )
    try:
        with httpx.Client(verify=ctx, timeout=30.0) as client:
            resp = client.post(tool_url, json={"text": text})
            resp.raise_for_status()
    except Exception as e:  # noqa: BLE001
        emit(step="post", ok=False, error=describe(e))
        return 3
    emit(step="post", ok=True, status=resp.status_code, body=resp.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
