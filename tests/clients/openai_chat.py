"""One chat completion with the real `openai` SDK.

usage: openai_chat.py BASE_URL CA_FILE MESSAGE_FILE

BASE_URL is e.g. https://localhost:PORT/v1. The message file's text is the user
message. No retries (max_retries=0), so a blocked request fails once. Prints the
assistant's reply and exits 0; on failure prints `ExceptionName: message` (to
stderr) and exits 1.
"""

import ssl
import sys

import httpx
import openai


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: openai_chat.py BASE_URL CA_FILE MESSAGE_FILE", file=sys.stderr)
        return 2
    base_url, ca, message_file = sys.argv[1:]
    with open(message_file, encoding="utf-8") as f:
        message = f.read()
    try:
        ctx = ssl.create_default_context(cafile=ca)
        client = openai.OpenAI(
            base_url=base_url,
            api_key="test",
            http_client=httpx.Client(verify=ctx, timeout=30.0),
            max_retries=0,
            timeout=30.0,
        )
        resp = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": message}],
        )
        content = resp.choices[0].message.content
    except Exception as e:  # noqa: BLE001 - report any failure by name
        cause = e.__cause__ or e.__context__
        extra = f" (caused by {type(cause).__name__}: {cause})" if cause else ""
        print(f"{type(e).__name__}: {e}{extra}", file=sys.stderr)
        return 1
    print(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
