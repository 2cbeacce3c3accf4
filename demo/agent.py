"""A small agent for the egress demo (`cargo xtask demo`).

It talks to an OpenAI-compatible chat API with the real `openai` SDK and posts to a
Slack-style incoming webhook with httpx, in four steps:

1. an ordinary question to the model                              (egress allows it)
2. a prompt with a customer's e-mail address and card number      (egress masks both)
3. a tool result holding AWS credentials, sent back to the model  (egress blocks it)
4. a message naming a customer, posted to the team's webhook      (egress holds it for review)

Nothing in it knows about egress. It reads OPENAI_BASE_URL and OPENAI_API_KEY (as the SDK
does), WEBHOOK_URL, AWS_SHARED_CREDENTIALS_FILE (the file its `read_file` tool reads) and
SSL_CERT_FILE (honoured by httpx, so it trusts the demo's local CA). Each step prints
`N: title`, then `N -> what it sends` and `N <- what came back`; a failed call is printed
and the agent carries on.
"""

import os
import sys

import httpx
import openai

CUSTOMER_EMAIL = "jonas.wilhelmsen@fjordline-analytics.com"
CUSTOMER_CARD = "4556737586899855"  # made up; passes the Luhn check like a real one


def say(step: int, text: str) -> None:
    print(f"{step}{text}", flush=True)


def ask_model(client: openai.OpenAI, step: int, messages: list, shown: str) -> None:
    say(step, f' -> chat.completions.create: "{shown}"')
    try:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        say(step, f' <- model replied: "{reply.choices[0].message.content}"')
    except openai.APIError as error:
        say(step, f" <- call failed: {type(error).__name__}: {error}")


def read_file_tool(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def main() -> int:
    # No retries: a refused request fails once, visibly.
    client = openai.OpenAI(max_retries=0, timeout=30.0)

    say(1, ": an ordinary question to the model")
    question = "Summarise yesterday's deploy in one sentence."
    ask_model(client, 1, [{"role": "user", "content": question}], question)

    say(2, ": a prompt with a customer's e-mail address and card number")
    prompt = f"Draft a short apology to {CUSTOMER_EMAIL} and refund the last charge on card {CUSTOMER_CARD}."
    ask_model(client, 2, [{"role": "user", "content": prompt}], prompt)

    say(3, ": the agent's read_file tool returned AWS credentials; they go back to the model")
    credentials = read_file_tool(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    conversation = [
        {"role": "system", "content": "You are a deployment assistant."},
        {"role": "user", "content": "Which AWS region does the deploy job use?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_read_1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "~/.aws/credentials"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_read_1", "content": credentials},
    ]
    ask_model(client, 3, conversation, "Which AWS region ...?" + " + tool result: ~/.aws/credentials")

    say(4, ": a message naming a customer, posted to the team's Slack webhook")
    text = f"Refund requested by {CUSTOMER_EMAIL}, ticket #4411"
    say(4, f' -> POST webhook {{"text": "{text}"}}')
    try:
        response = httpx.post(os.environ["WEBHOOK_URL"], json={"text": text}, timeout=120.0)
        say(4, f' <- webhook answered {response.status_code} "{response.text}"')
    except httpx.HTTPError as error:
        say(4, f" <- post failed: {type(error).__name__}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
