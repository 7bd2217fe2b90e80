/** A server with a small max_payload: oversized requests are refused before anything is sent. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { createRoleClient, serveRole, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { PayloadTooLargeError } from "../../../schemas/index.ts";
import { startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { ANSWER, wordsHandler } from "../../fixtures/scripted.ts";

let server: NatsServer;
let agent: Mesh;
let caller: Mesh;
let responder: RoleResponder;
const runs = { count: 0 };
let seen = 0;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: false, config: "max_payload: 4096" });
  agent = await connectMesh({ servers: server.url });
  caller = await connectMesh({ servers: server.url });
  responder = await serveRole(agent, { role: "voice", host: "h1", handler: wordsHandler("h1", { runs }), heartbeatIntervalS: 0 });
  agent.nc.subscribe("lyra.voice", { callback: () => void seen++ }); // a tap: sees every request that reaches the server
  await agent.nc.flush();
});
afterAll(async () => {
  await responder?.close();
  await caller?.close();
  await agent?.close();
  await server?.[Symbol.asyncDispose]();
});

describe("max_payload", () => {
  it("a request over the server's max_payload is refused before sending, with a typed error", async () => {
    expect(caller.maxPayload()).toBe(4096);
    const client = createRoleClient(caller);
    const err = await client.call("voice", "x".repeat(5000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as PayloadTooLargeError).limit).toBe(4096);
    await caller.nc.flush();
    expect(seen).toBe(0);
    expect(runs.count).toBe(0);
  });

  it("a request under the limit goes through", async () => {
    const r = await createRoleClient(caller).call("voice", "x".repeat(1000));
    expect(r.text).toBe(ANSWER);
    expect(seen).toBe(1);
  });
});
