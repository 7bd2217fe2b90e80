/** What a handler's typed error and a fallback answer look like to the caller. */
import { describe, expect, it } from "vitest";
import { connectMesh } from "../../../mesh/connect.ts";
import { BusyError, roleCallError } from "../../../mesh/errors.ts";
import { createRoleClient } from "../../../mesh/rolecall/client.ts";
import { serveRole } from "../../../mesh/rolecall/responder.ts";
import { Header, WireCode } from "../../../schemas/index.ts";
import { rawExchange } from "./helpers.ts";
import { startNatsServer } from "../../harness/nats-server.ts";

describe("role errors and answer headers", () => {
  it("a handler's error keeps its name, message and retry_after_s, and the role is named once", async () => {
    await using server = await startNatsServer({ jetstream: false });
    await using mesh = await connectMesh({ servers: server.url });
    await using _r = await serveRole(mesh, {
      role: "probe",
      host: "h",
      heartbeatIntervalS: 0,
      async *handler() {
        throw roleCallError(WireCode.Busy, "probe", "Ollama is busy", {
          error: "backend_busy",
          message: "Ollama is busy",
          retry_after_s: 7,
        });
      },
    });
    const err = await createRoleClient(mesh)
      .call("probe", "hi", { maxAttempts: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusyError);
    expect((err as BusyError).message).toBe("role 'probe': Ollama is busy");
    expect((err as BusyError).code).toBe("backend_busy");
    expect((err as BusyError).retryAfterS).toBe(7);
  });

  it("the answer's backend and fallback reason travel in headers as well", async () => {
    await using server = await startNatsServer({ jetstream: false });
    await using mesh = await connectMesh({ servers: server.url });
    await using _r = await serveRole(mesh, {
      role: "probe",
      host: "h",
      heartbeatIntervalS: 0,
      async *handler() {
        yield { type: "response", data: "hi" };
        const final = {
          model: "gpt",
          backend: "openai",
          host: "h",
          usage: { prompt_tokens: 1, completion_tokens: 1 },
          timings: { total_ms: 1 },
          fallback: { reason: "backend_unavailable", from: "ollama" },
        };
        yield { type: "final", data: final };
      },
    });
    // The first message is the ack (§6.4); the answer follows it.
    const msgs = await rawExchange(mesh.nc, "lyra.probe", "hello");
    const reply = msgs[1]!;
    expect(reply.headers?.get(Header.Backend)).toBe("openai");
    expect(reply.headers?.get(Header.Fallback)).toBe("backend_unavailable");
  });
});
