"""One chat completion with the real `openai` SDK, with a whole conversation.

usage: openai_messages.py BASE_URL CA_FILE MESSAGES_FILE

MESSAGES_FILE holds the JSON array of messages (system, user, assistant with
tool_calls, tool results...). No retries (max_retries=0). On success prints one
JSON line {"content": ..., "tool_calls": [...]} and exits 0; on failure prints
`ExceptionName: message (caused by ...) [classes: Name < Base < ...]` (the openai
exception classes it is an instance of) to stderr and exits 1.
"""

import json
import ssl
import sys

import httpx
import openai


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: openai_messages.py BASE_URL CA_FILE MESSAGES_FILE", file=sys.stderr)
        return 2
    base_url, ca, messages_file = sys.argv[1:]
    with open(messages_file, encoding="utf-8") as f:
        messages = json.load(f)
    try:
        ctx = ssl.create_default_context(cafile=ca)
        client = openai.OpenAI(
            base_url=base_url,
            api_key="test",
            http_client=httpx.Client(verify=ctx, timeout=30.0),
            max_retries=0,
            timeout=30.0,
        )
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        message = resp.choices[0].message
    except Exception as e:  # noqa: BLE001 - report any failure by name
        cause = e.__cause__ or e.__context__
        extra = f" (caused by {type(cause).__name__}: {cause})" if cause else ""
        # The SDK's error classes nest (APITimeoutError is an APIConnectionError): name them all.
        classes = " < ".join(c.__name__ for c in type(e).__mro__ if c.__module__.startswith("openai"))
        print(f"{type(e).__name__}: {e}{extra} [classes: {classes}]", file=sys.stderr)
        return 1
    calls = [
        {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for c in (message.tool_calls or [])
    ]
    print(json.dumps({"content": message.content, "tool_calls": calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
