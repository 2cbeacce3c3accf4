// POST a file's bytes with node's global fetch.
//
// usage: NODE_EXTRA_CA_CERTS=CA node fetch_post.mjs URL BODY_FILE
//
// Prints the response body and exits 0 on a 2xx answer; on failure prints
// `ErrorName: message (cause ...)` to stderr and exits 1.
import { readFileSync } from "node:fs";

const [url, bodyFile] = process.argv.slice(2);
if (!url || !bodyFile) {
  console.error("usage: node fetch_post.mjs URL BODY_FILE");
  process.exit(2);
}
const body = readFileSync(bodyFile);
try {
  const resp = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  const text = await resp.text();
  if (!resp.ok) {
    console.error(`HTTPError: status ${resp.status}: ${text}`);
    process.exit(1);
  }
  console.log(text);
  process.exit(0);
} catch (e) {
  const c = e.cause;
  const cause = c ? ` (cause: ${c.name ?? ""} ${c.code ?? ""}: ${c.message ?? c})` : "";
  console.error(`${e.name}: ${e.message}${cause}`);
  process.exit(1);
}
