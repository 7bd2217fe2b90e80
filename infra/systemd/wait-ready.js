// Waits until a readiness URL answers 2xx, for a unit's ExecStartPost: systemd counts the unit as
// started only then, so the units ordered After= it (and `systemctl start`) wait for readiness.
// Usage: node wait-ready.js URL [SECONDS]   (default 90; exit 1, naming the URL, when it is not ready by then)
const [url, seconds = "90"] = process.argv.slice(2);
const limit = Number(seconds);
if (!url || !URL.canParse(url) || !(limit > 0)) {
  console.error("usage: node wait-ready.js URL [SECONDS] (an http URL such as http://127.0.0.1:9464/readyz, and seconds > 0)");
  process.exit(2);
}
const until = Date.now() + limit * 1000;
let last = "no answer yet";
for (;;) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (res.ok) process.exit(0);
    last = `${res.status} ${(await res.text()).slice(0, 300)}`;
  } catch (err) {
    last = err.cause?.code ?? err.message;
  }
  if (Date.now() >= until) {
    console.error(`wait-ready: ${url} is not ready after ${limit} s (last: ${last})`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
