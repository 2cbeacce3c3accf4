"""An agent that runs the tool call its model asks for, then one the model did not ask for.

usage: tool_call_agent.py CHAT_BASE_URL TOOL_URL CA_FILE [--stream]

1. Asks the model (the `openai` SDK, chat completions, tool `post_message` declared;
   streamed with --stream) what to do. Prints {"step": "chat", "ok": true,
   "tool_call": {"id", "name", "arguments"}} (exit 1 if that fails or asks for no call).
2. Runs the call: POSTs its arguments (parsed, as JSON) to TOOL_URL.
3. POSTs {"text": "something else"} to TOOL_URL.
Each POST uses a new connection and prints {"step": "post1"|"post2", "ok": bool,
"status": ..., "body": ..., "error": ...}. Exits 0 once both POSTs were tried.
All in one process: the model's answer and the tool requests come from the same pid.
"""

import json
import ssl
import sys

import httpx
import openai

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "post_message",
            "description": "Post a message to the team channel.",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
                "additionalProperties": False,
            },
        },
    }
]


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def describe(e: Exception) -> str:
    cause = e.__cause__ or e.__context__
    extra = f" (caused by {type(cause).__name__}: {cause})" if cause else ""
    return f"{type(e).__name__}: {e}{extra}"


def ask_model(client: openai.OpenAI, stream: bool) -> dict:
    messages = [{"role": "user", "content": "Tell the team channel that the deploy is done."}]
    if not stream:
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        call = resp.choices[0].message.tool_calls[0]
        return {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
    call = {"id": "", "name": "", "arguments": ""}
    chunks = 0
    for chunk in client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS, stream=True
    ):
        chunks += 1
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                if tc.index != 0:
                    continue
                if tc.id:
                    call["id"] = tc.id
                if tc.function and tc.function.name:
                    call["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    call["arguments"] += tc.function.arguments
    call["chunks"] = chunks
    return call


def post(url: str, ctx: ssl.SSLContext, payload: dict, step: str) -> None:
    try:
        # A new client per request: a new TCP connection and TLS session each time.
        with httpx.Client(verify=ctx, timeout=30.0) as client:
            resp = client.post(url, json=payload)
        emit(step=step, ok=resp.is_success, status=resp.status_code, body=resp.text)
    except Exception as e:  # noqa: BLE001 - report any failure by name
        emit(step=step, ok=False, error=describe(e))


def main() -> int:
    args = sys.argv[1:]
    stream = "--stream" in args
    args = [a for a in args if a != "--stream"]
    if len(args) != 3:
        print("usage: tool_call_agent.py CHAT_BASE_URL TOOL_URL CA_FILE [--stream]", file=sys.stderr)
        return 2
    chat_url, tool_url, ca = args
    ctx = ssl.create_default_context(cafile=ca)
    try:
        client = openai.OpenAI(
            base_url=chat_url,
            api_key="test",
            http_client=httpx.Client(verify=ctx, timeout=30.0),
            max_retries=0,
            timeout=30.0,
        )
        call = ask_model(client, stream)
    except Exception as e:  # noqa: BLE001
        emit(step="chat", ok=False, error=describe(e))
        return 1
    if not call.get("id") or call.get("name") != "post_message":
        emit(step="chat", ok=False, error=f"no post_message tool call in the answer: {call}")
        return 1
    emit(step="chat", ok=True, tool_call=call)
    post(tool_url, ctx, json.loads(call["arguments"]), "post1")
    post(tool_url, ctx, {"text": "something else"}, "post2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
