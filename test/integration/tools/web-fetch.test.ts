/**
 * fetch_page's HTTP client directly, with an address policy that refuses only 127.0.0.1, so a page
 * on 127.0.0.2 stands for a public host: redirects to a refused address are re-checked, and the
 * connection's own lookup refuses an answer that changed after the check (DNS rebinding).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cappedGet } from "../../../tools/builtin/web/http.ts";
import type { DoubleServer } from "../../doubles/http.ts";
import { startPages } from "./web-pages.ts";

let pages: DoubleServer; // on 127.0.0.1: "private"
let publicish: Server; // on 127.0.0.2: "public"
let pub = "";
const only127001 = (ip: string) => ip === "127.0.0.1" || ip === "::1" || ip === "::ffff:127.0.0.1";
const opts = { maxBytes: 100_000, timeoutMs: 2000, maxRedirects: 3 };

beforeAll(async () => {
  pages = await startPages();
  publicish = createServer((req, res) => {
    const to =
      req.url === "/to-private"
        ? `${pages.url}/article`
        : req.url === "/to-localhost"
          ? `http://localhost:${pages.port}/article`
          : undefined;
    if (to) res.writeHead(302, { location: to }).end();
    else res.writeHead(200, { "content-type": "text/plain" }).end("public page");
  });
  await new Promise<void>((r) => publicish.listen(0, "127.0.0.2", r));
  pub = `http://127.0.0.2:${(publicish.address() as AddressInfo).port}`;
});
afterAll(async () => {
  publicish?.closeAllConnections();
  await new Promise((r) => publicish?.close(r));
  await pages?.close();
});

describe("fetch_page's guard across redirects and lookups", () => {
  it("a public page is fetched; its redirect to a private address, or to a name resolving to one, is refused", async () => {
    expect((await cappedGet(`${pub}/`, { ...opts, allowPrivate: only127001 })).body.toString()).toBe("public page");
    await expect(cappedGet(`${pub}/to-private`, { ...opts, allowPrivate: only127001 })).rejects.toThrow(
      /^refused: '127\.0\.0\.1' is a private/,
    );
    await expect(cappedGet(`${pub}/to-localhost`, { ...opts, allowPrivate: only127001 })).rejects.toThrow(
      /^refused: 'localhost' \(127\.0\.0\.1\)/,
    );
    // Allowed, the same redirect reaches the article.
    expect((await cappedGet(`${pub}/to-private`, { ...opts, allowPrivate: true })).url).toBe(`${pages.url}/article`);
  });

  it("the connection uses only checked addresses: an answer that turns private after the check is refused", async () => {
    let asked = 0;
    // The first resolution (the check) looks public; the connection's own lookup gets the private answer.
    const rebinding = (ip: string) => ip.startsWith("127.") && ++asked > 1;
    await expect(cappedGet(`http://localhost:${pages.port}/article`, { ...opts, allowPrivate: rebinding })).rejects.toThrow(
      /^refused: 'localhost' \(127\.0\.0\.1\)/,
    );
    expect(asked).toBe(2);
  });
});
