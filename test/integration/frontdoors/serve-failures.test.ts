/** `lyra serve` when the mesh cannot answer (503), when a key sends too much (429). */
import OpenAI from "openai";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseKeys, startServe } from "../../../agents/frontdoors/openai/index.ts";
import { startConductor } from "../../../mesh/conductor/index.ts";
import { silentLogger } from "../../../mesh/logger.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { newId } from "../conductor/helpers.ts";
import { KEY, KEY2, serveFixture, type ServeFixture } from "./serve-helpers.ts";

type ApiError = InstanceType<typeof OpenAI.APIError>;

// A mesh with no agent and no conductor.
let f: ServeFixture;
beforeAll(async () => {
  f = await serveFixture({ committee: false });
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

const ask = (client: OpenAI, model: string, stream = false) =>
  client.chat.completions
    .create({ model, messages: [{ role: "user", content: "hello?" }], user: newId("u"), stream })
    .catch((e: unknown) => e as ApiError);

describe("lyra serve on a mesh that cannot answer", () => {
  it("answers 503 at once when no conductor consumes the inbox (model lyra)", async () => {
    const err = (await ask(f.client, "lyra")) as ApiError;
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(503);
    expect(err.code).toBe("no_conductor");
    expect(err.message).toContain("start 'lyra core'");
    expect(err.headers?.get("retry-after")).toBe("1");
  });

  it("answers 503 at once when no agent serves the role (no responders)", async () => {
    for (const stream of [false, true]) {
      const err = (await ask(f.client, "lyra/voice", stream)) as ApiError;
      expect(err.status).toBe(503);
      expect(err.code).toBe("no_responders");
      expect(err.message).toContain("no agent serves role 'voice'");
    }
  });

  it("answers 503 timeout when the committee does not reply in time, streamed or not", async () => {
    // A conductor whose router never answers within the endpoint's timeout.
    await using _router = await serveRole(f.mesh, {
      role: "router",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler(_req, ctx) {
        await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        yield { type: "response", data: "{}" };
      },
    });
    const core = await startConductor(f.mesh, {
      roles: createRoleClient(f.mesh),
      committee: { router: "router", voice: "voice", specialists: ["pragmatist"], defaultSpecialist: "pragmatist" },
    });
    await using serve = await startServe({
      mesh: f.mesh,
      roles: ["voice"],
      keys: parseKeys(KEY, "K"),
      port: 0,
      log: silentLogger,
      timeoutMs: 400,
    });
    const client = new OpenAI({ apiKey: KEY, baseURL: serve.url, maxRetries: 0 });
    try {
      const err = (await ask(client, "lyra")) as ApiError;
      expect(err.status).toBe(503);
      expect(err.code).toBe("timeout");
      expect(err.message).toContain("no reply within");
      // Streamed, the headers are out: the error comes as an SSE event, which the client raises.
      const stream = (await ask(client, "lyra", true)) as AsyncIterable<unknown>;
      const failed = await (async () => {
        for await (const _ of stream) {
          // the role chunk
        }
      })().catch((e: unknown) => e as ApiError);
      expect(failed).toBeInstanceOf(OpenAI.APIError);
      expect((failed as ApiError).message).toContain("no reply within");
    } finally {
      await core.close();
    }
  });

  it("answers 429 with Retry-After past a key's rate, and counts it; other keys are not limited", async () => {
    await using serve = await startServe({
      mesh: f.mesh,
      roles: ["voice"],
      keys: parseKeys(`${KEY},${KEY2}`, "K"),
      port: 0,
      log: silentLogger,
      rateLimit: { rpm: 1, burst: 2 },
    });
    const one = new OpenAI({ apiKey: KEY, baseURL: serve.url, maxRetries: 0 });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(((await ask(one, "lyra/voice")) as ApiError).status);
    expect(codes).toEqual([503, 503, 429]);
    const limited = (await ask(one, "lyra/voice")) as ApiError;
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited.code).toBe("rate_limit_exceeded");
    expect(Number(limited.headers?.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.message).toContain("1 requests per minute");
    const two = new OpenAI({ apiKey: KEY2, baseURL: serve.url, maxRetries: 0 });
    expect(((await ask(two, "lyra/voice")) as ApiError).status).toBe(503);
    const metrics = await (await fetch(serve.url.replace(/\/v1$/, "/metrics"))).text();
    expect(metrics).toMatch(/lyra_frontdoor_rate_limited_total\{door="openai"\} 2/);
  });

  it("drains: a request past the grace gets 503 shutting_down, a new one is refused", async () => {
    await using _voice = await serveRole(f.mesh, {
      role: "voice",
      host: "test",
      heartbeatIntervalS: 0,
      async *handler(_req, ctx) {
        await sleep(10_000, undefined, { signal: ctx.signal }).catch(() => undefined);
        yield { type: "response", data: "too late" };
      },
    });
    const serve = await startServe({ mesh: f.mesh, roles: ["voice"], keys: parseKeys(KEY, "K"), port: 0, log: silentLogger, graceMs: 200 });
    const client = new OpenAI({ apiKey: KEY, baseURL: serve.url, maxRetries: 0 });
    const pending = ask(client, "lyra/voice");
    await sleep(300); // the call is in flight
    expect(serve.inFlight()).toBe(1);
    const drained = serve.drain();
    const err = (await pending) as ApiError;
    expect(err.status).toBe(503);
    expect(err.code).toBe("shutting_down");
    await drained;
    expect(serve.inFlight()).toBe(0);
    await expect(fetch(`${serve.url}/models`)).rejects.toThrow();
  });
});
