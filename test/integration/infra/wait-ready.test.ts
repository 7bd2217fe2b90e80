/**
 * infra/systemd/wait-ready.js, the systemd units' ExecStartPost: it exits 0 once the URL answers
 * 2xx, 1 with the URL and the last answer when it is not ready in time, 2 on bad arguments.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SCRIPT = join(fileURLToPath(new URL("../../../infra/systemd/", import.meta.url)), "wait-ready.js");
let server: Server;
let base = "";
/** Probes of /ready-later so far: it answers 503 to the first two. */
let probes = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/ready-later" && ++probes > 2) return void res.writeHead(200).end('{"ready":true}');
    res.writeHead(503, { "content-type": "application/json" }).end('{"ready":false,"reasons":["draining"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function wait(...args: string[]): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, err })));
}

describe("wait-ready.js", () => {
  it("exits 0 once the URL answers 200, after the 503s before it", async () => {
    expect(await wait(`${base}/ready-later`, "30")).toEqual({ code: 0, err: "" });
    expect(probes).toBe(3);
  });

  it("exits 1 naming the URL and its last answer when it is not ready in time", async () => {
    const r = await wait(`${base}/never`, "1");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/never is not ready after 1 s \(last: 503 .*draining/);
  });

  it("exits 2 on bad arguments, saying how to call it", async () => {
    for (const args of [[], ["not a url"], [`${base}/never`, "0"]]) {
      const r = await wait(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/usage: node wait-ready\.js URL/);
    }
  });
});
