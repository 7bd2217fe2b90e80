/** Pages the web tool tests serve on localhost: an article with chrome around it, a form, and pathological ones. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { sleep, startDoubleServer, type DoubleServer } from "../../doubles/http.ts";

export const ARTICLE_SENTENCE = "JetStream keeps every message of a stream on disk until its limits say otherwise";

const PARAGRAPHS = Array.from(
  { length: 6 },
  (_, i) =>
    `<p>${ARTICLE_SENTENCE}, paragraph ${i + 1}. ` +
    `Consumers read from a stream at their own pace, acknowledging what they processed, ` +
    `and a stream can be replicated across servers for durability.</p>`,
).join("\n");

const ARTICLE = `<!doctype html><html><head><title>Streams in depth</title>
<script>window.trackingSecret = "SCRIPT-NOISE-42";</script><style>.nav{color:red}</style></head>
<body><nav class="nav"><a href="/">Home</a> <a href="/about">NAVIGATION-NOISE</a></nav>
<article><h1>Streams in depth</h1>
${PARAGRAPHS}
</article><footer>FOOTER-NOISE copyright</footer></body></html>`;

const GREET = "document.getElementById('out').textContent = 'Hello, ' + document.getElementById('name').value + '!'";
const FORM = `<!doctype html><html><head><title>Greeter</title></head><body>
<input id="name" placeholder="your name"><button id="go" onclick="${GREET}">Greet</button>
<p id="out">nobody greeted yet</p></body></html>`;

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  type = "text/html; charset=utf-8",
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra });
  res.end(body);
}

export function startPages(): Promise<DoubleServer> {
  return startDoubleServer(async (req: IncomingMessage, res: ServerResponse, gone: AbortSignal) => {
    const path = (req.url ?? "/").split("?")[0];
    switch (path) {
      case "/article":
        return send(res, 200, ARTICLE);
      case "/form":
        return send(res, 200, FORM);
      case "/plain":
        return send(res, 200, "just some plain text", "text/plain");
      case "/big":
        return send(res, 200, `<html><body><p>${"x".repeat(200_000)}</p></body></html>`);
      case "/big-chunked": {
        // No content-length: the cap must hold while reading.
        res.writeHead(200, { "content-type": "text/html" });
        for (let i = 0; i < 50 && !gone.aborted; i++) res.write("y".repeat(10_000));
        return void res.end();
      }
      case "/slow":
        await sleep(10_000, gone);
        return send(res, 200, "<p>late</p>");
      case "/image.png":
        return send(res, 200, Buffer.from([0x89, 0x50, 0x4e, 0x47]), "image/png");
      case "/missing":
        return send(res, 404, "<p>not here</p>");
      case "/redirect":
        return send(res, 302, "", "text/html", { location: "/article" });
      case "/loop":
        return send(res, 302, "", "text/html", { location: "/loop" });
      case "/to-file":
        return send(res, 302, "", "text/html", { location: "file:///etc/passwd" });
      default:
        return send(res, 404, "<p>no such page</p>");
    }
  });
}
