/**
 * `lyra serve` against slow and greedy clients: header, body and idle timeouts, the connection cap,
 * a body the mesh cannot carry, a content type that only looks like JSON, a client that leaves.
 */
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseKeys, startServe, type ServeOptions, type ServeServer } from "../../../agents/frontdoors/openai/index.ts";
import { createLogger } from "../../../mesh/logger.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { newId } from "../conductor/helpers.ts";
import { KEY, serveFixture, type ServeFixture } from "./serve-helpers.ts";
import { eventually } from "../../harness/eventually.ts";

// A server whose messages are at most 32 KiB: a body well under max_body can still be too big for it.
const MAX_PAYLOAD = 32 * 1024;
let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture({ nats: { config: `max_payload: ${MAX_PAYLOAD}` } });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

interface Raw {
  socket: Socket;
  /** Resolves when the server closes the connection: what it sent, and after how long. */
  closed: Promise<{ data: string; ms: number }>;
  /** Resolves with what has come once it contains `text`. */
  waitFor(text: string): Promise<string>;
}

/** A raw TCP client of the endpoint, so a test can send a request as slowly as it likes. */
async function raw(port: number): Promise<Raw> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const t0 = performance.now();
  let data = "";
  const waiters: (() => void)[] = [];
  socket.on("data", (d: Buffer) => {
    data += d.toString();
    waiters.splice(0).forEach((w) => w());
  });
  socket.on("error", () => undefined); // a reset is a close here
  const closed = new Promise<{ data: string; ms: number }>((r) =>
    socket.once("close", () => r({ data, ms: Math.round(performance.now() - t0) })),
  );
  const waitFor = async (text: string) => {
    while (!data.includes(text)) await new Promise<void>((r) => waiters.push(r));
    return data;
  };
  return { socket, closed, waitFor };
}

/** Drips `text` into the socket, one piece every `everyMs`, until the socket closes. */
function drip(s: Socket, text: string, everyMs: number): void {
  const t = setInterval(() => (s.writable ? s.write(text) : clearInterval(t)), everyMs);
  s.once("close", () => clearInterval(t));
}

/** Fails with `what` when `p` has not settled within ms (the Node default timeouts are a minute and more). */
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`still open after ${ms} ms: ${what}`)))]);

async function serveWith(o: Partial<ServeOptions>): Promise<ServeServer> {
  return startServe({
    mesh: f.mesh,
    roles: ["voice"],
    keys: parseKeys(KEY, "LYRA_SERVE_KEYS"),
    port: 0,
    log: createLogger({ level: "silent" }),
    rateLimit: { rpm: 0, burst: 1 },
    ...o,
  });
}

const REQUEST_HEAD =
  `POST /v1/chat/completions HTTP/1.1\r\n` + `Host: lyra\r\n` + `Authorization: Bearer ${KEY}\r\n` + `Content-Type: application/json\r\n`;

describe("lyra serve's timeouts", () => {
  it("cuts off a client that sends its headers slowly (slowloris) after serve.header_timeout", async () => {
    await using serve = await serveWith({ headerTimeoutMs: 300, bodyTimeoutMs: 5000 });
    const c = await raw(serve.port);
    c.socket.write(REQUEST_HEAD);
    drip(c.socket, "X-Slow: a\r\n", 50);
    const { data, ms } = await within(c.closed, 15_000, "a slowloris client");
    console.log(`slowloris (header timeout 300 ms): cut off after ${ms} ms`);
    expect(data).toMatch(/^HTTP\/1.1 408/);
    // A client that connects and sends nothing is cut off the same way.
    const silent = await raw(serve.port);
    expect((await within(silent.closed, 15_000, "a silent client")).data).toMatch(/^HTTP\/1.1 408/);
  });

  it("cuts off a client that sends its body slowly after serve.body_timeout, and logs it as the client's doing", async () => {
    const lines: string[] = [];
    const log = createLogger({
      level: "info",
      destination: new Writable({ write: (b: Buffer, _e, cb) => (lines.push(b.toString()), cb()) }),
    });
    await using serve = await serveWith({ headerTimeoutMs: 300, bodyTimeoutMs: 600, log });
    const c = await raw(serve.port);
    c.socket.write(`${REQUEST_HEAD}Content-Length: 1000\r\n\r\n{"model":"lyra/voice",`);
    drip(c.socket, " ", 50);
    const { data, ms } = await within(c.closed, 15_000, "a client dripping its body");
    console.log(`slow body (body timeout 600 ms): cut off after ${ms} ms`);
    expect(data).toMatch(/^HTTP\/1.1 408/);
    await eventually("the request to end", () => (serve.inFlight() === 0 ? true : undefined), { timeoutMs: 5000 });
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(logged.filter((l) => l.level === 30 && /before the request was read/.test(l.msg))).toHaveLength(1);
  });

  it("does not cut a request whose answer is slow: the body timeout is for receiving the request", async () => {
    await using _slow = await serveRole(f.mesh, {
      role: "voice",
      host: "slow",
      heartbeatIntervalS: 0,
      async *handler() {
        await sleep(1000);
        yield { type: "response", data: "worth the wait" };
      },
    });
    await using serve = await serveWith({ headerTimeoutMs: 200, bodyTimeoutMs: 300 });
    // The fixture's voice answers at once: ask until the slow one has answered.
    const answer = await eventually(
      "the slow voice's answer",
      async () => {
        const r = await fetch(`${serve.url}/chat/completions`, {
          method: "POST",
          headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
          body: JSON.stringify({ model: "lyra/voice", messages: [{ role: "user", content: "take your time" }] }),
        });
        const body = (await r.json()) as { choices: { message: { content: string } }[] };
        return body.choices[0]!.message.content === "worth the wait" ? r.status : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(answer).toBe(200);
  });

  it("closes a keep-alive connection idle for serve.idle_timeout", async () => {
    await using serve = await serveWith({ idleTimeoutMs: 300 });
    const c = await raw(serve.port);
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: lyra\r\n\r\n");
    await c.waitFor("ok\n");
    // node's default closes it after 5 s; with 300 ms configured it goes well before 4 s.
    const { ms } = await within(c.closed, 4000, "an idle keep-alive connection");
    console.log(`idle keep-alive (idle timeout 300 ms): closed after ${ms} ms`);
  });
});

describe("lyra serve's connection cap", () => {
  it("refuses connections past serve.max_connections, and takes new ones once some close", async () => {
    const lines: string[] = [];
    const log = createLogger({
      level: "info",
      destination: new Writable({ write: (b: Buffer, _e, cb) => (lines.push(b.toString()), cb()) }),
    });
    await using serve = await serveWith({ maxConnections: 2, idleTimeoutMs: 60_000, log });
    const held = [await raw(serve.port), await raw(serve.port)];
    for (const c of held) {
      c.socket.write("GET /healthz HTTP/1.1\r\nHost: lyra\r\n\r\n");
      await c.waitFor("ok\n");
    }
    const third = await raw(serve.port);
    third.socket.write("GET /healthz HTTP/1.1\r\nHost: lyra\r\n\r\n");
    const refused = await within(third.closed, 15_000, "a connection past the cap");
    expect(refused.data).toBe("");
    expect(lines.some((l) => /"level":40.*connections refused/.test(l))).toBe(true);
    held[0]!.socket.destroy();
    const ok = await eventually(
      "a connection under the cap",
      async () => (await fetch(`${serve.url.replace(/\/v1$/, "")}/healthz`).catch(() => undefined))?.status,
      { timeoutMs: 10_000 },
    );
    expect(ok).toBe(200);
    held[1]!.socket.destroy();
  });
});

describe("lyra serve's bodies", () => {
  it("answers 413 in OpenAI's shape when a body under max_body makes a role request over the server's max_payload", async () => {
    const body = JSON.stringify({ model: "lyra/voice", messages: [{ role: "user", content: "x".repeat(40_000) }] });
    expect(body.length).toBeLessThan(1024 ** 2); // under the default max_body
    const res = await f.post("/chat/completions", body);
    const err = ((await res.json()) as { error: { message: string; type: string; code: string } }).error;
    expect({ status: res.status, type: err.type, code: err.code }).toEqual({
      status: 413,
      type: "invalid_request_error",
      code: "request_too_large",
    });
    expect(err.message).toContain(`max_payload of ${MAX_PAYLOAD}`);
    // The committee's inbox message too (its text is at most 32,000 characters; here they are 2 bytes each).
    const turn = await f.post(
      "/chat/completions",
      JSON.stringify({ model: "lyra", user: newId("u"), messages: [{ role: "user", content: "é".repeat(20_000) }] }),
    );
    expect(turn.status).toBe(413);
    expect(((await turn.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
  });

  it("refuses Content-Type application/json-seq (and other look-alikes) with 415, without parsing the body", async () => {
    for (const type of ["application/json-seq", "application/jsonp", "application/json5"]) {
      const res = await f.post("/chat/completions", JSON.stringify({ model: "lyra/voice", messages: [{ role: "user", content: "hi" }] }), {
        "Content-Type": type,
      });
      const body = (await res.json()) as { error?: { message: string; code: string } };
      expect({ type, status: res.status, code: body.error?.code }).toEqual({ type, status: 415, code: "invalid_content_type" });
      expect(body.error!.message).toContain(`'${type}'`);
    }
    const ok = await f.post("/chat/completions", JSON.stringify({ model: "lyra/voice", messages: [{ role: "user", content: "hi" }] }), {
      "Content-Type": "Application/JSON; charset=utf-8",
    });
    expect(ok.status).toBe(200);
  });
});

describe("lyra serve when the client leaves", () => {
  it("logs a client that disconnects mid-stream or while it waits as info, not as an error", async () => {
    const started: string[] = [];
    await using _slow = await serveRole(f.mesh, {
      role: "dawdler",
      host: "slow",
      heartbeatIntervalS: 0,
      async *handler(req, ctx) {
        started.push(String(req.messages?.at(-1)?.content));
        yield { type: "response", data: "first words, " };
        await sleep(30_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        yield { type: "response", data: "too late" };
      },
    });
    const lines: string[] = [];
    const log = createLogger({
      level: "debug",
      destination: new Writable({ write: (b: Buffer, _e, cb) => (lines.push(b.toString()), cb()) }),
    });
    await using serve = await startServe({
      mesh: f.mesh,
      roles: ["dawdler"],
      keys: parseKeys(KEY, "K"),
      port: 0,
      log,
      rateLimit: { rpm: 0, burst: 1 },
    });
    const ask = (stream: boolean, signal: AbortSignal) =>
      fetch(`${serve.url}/chat/completions`, {
        method: "POST",
        signal,
        headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ model: "lyra/dawdler", stream, messages: [{ role: "user", content: stream ? "streamed" : "waiting" }] }),
      });
    // Streamed: the first chunk arrives, then the client goes.
    const a1 = new AbortController();
    const res = await ask(true, a1.signal);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value as Uint8Array)).toContain("data:");
    a1.abort();
    await eventually("the streamed request to end", () => (serve.inFlight() === 0 ? true : undefined), { timeoutMs: 10_000 });
    // Not streamed: the client goes while the role is still answering.
    const a2 = new AbortController();
    const pending = ask(false, a2.signal).catch((e: unknown) => e);
    await eventually("the role call to start", () => (started.includes("waiting") ? true : undefined), { timeoutMs: 10_000 });
    a2.abort();
    await pending;
    await eventually("the waiting request to end", () => (serve.inFlight() === 0 ? true : undefined), { timeoutMs: 10_000 });
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logged.filter((l) => l.level >= 40)).toEqual([]);
    expect(logged.filter((l) => l.level === 30 && /client (closed|disconnected)/.test(l.msg))).toHaveLength(2);
  });
});
