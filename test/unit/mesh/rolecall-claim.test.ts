import { describe, expect, it } from "vitest";
import { headers } from "@nats-io/nats-core";
import { callerOf, claimConflict, requestDigest } from "../../../mesh/rolecall/claim.ts";
import { parseInbound } from "../../../mesh/rolecall/inbound.ts";
import { encode, Header, RoleRequest } from "../../../schemas/index.ts";

const NUID_A = "AbCdEfGhIjKlMnOpQrStUv";
const NUID_B = "0123456789abcdefghijkl";
const req = (v: unknown) => RoleRequest.parse(v);

describe("callerOf: the reply subject's inbox prefix", () => {
  it("drops the attempt token and the client's NUID, keeps a private prefix", () => {
    expect(callerOf(`_INBOX.core.${NUID_A}.${NUID_B}`)).toBe("_INBOX.core");
    expect(callerOf(`_INBOX.agent-gpu-1.${NUID_A}.x7`)).toBe("_INBOX.agent-gpu-1");
    // Another process of the same user: another client NUID, the same caller.
    expect(callerOf(`_INBOX.core.${NUID_B}.t1`)).toBe(callerOf(`_INBOX.core.${NUID_A}.t2`));
  });

  it("a bare inbox (no request token) gives the same prefix", () => {
    expect(callerOf(`_INBOX.core.${NUID_A}`)).toBe("_INBOX.core");
    expect(callerOf(`_INBOX.${NUID_A}`)).toBe("_INBOX");
  });

  it("without auth every caller shares _INBOX", () => {
    expect(callerOf(`_INBOX.${NUID_A}.${NUID_B}`)).toBe("_INBOX");
    expect(callerOf(`_INBOX.${NUID_B}.abcdefgh`)).toBe("_INBOX");
  });

  it("odd reply subjects keep at least their first token", () => {
    expect(callerOf("reply")).toBe("reply");
    expect(callerOf("my.replies.1")).toBe("my.replies");
    expect(callerOf(undefined)).toBe("");
  });
});

describe("requestDigest: what determines the answer", () => {
  const base = { messages: [{ role: "user", content: "hi" }], options: { temperature: 0.2, seed: 1 }, format: { type: "object" } };

  it("ignores the id, the deadline, the stream flag, the partial answer to resume and key order", () => {
    const d = requestDigest(req(base), "c1");
    expect(requestDigest(req({ ...base, id: "x", deadline: 123, stream: true }), "c1")).toBe(d);
    // A re-issue that resumes joins the job a slow replica still runs for the id: no 409.
    expect(requestDigest(req({ ...base, resume: { text: "The answer so far" } }), "c1")).toBe(d);
    expect(
      requestDigest(
        req({ format: { type: "object" }, options: { seed: 1, temperature: 0.2 }, messages: [{ content: "hi", role: "user" }] }),
        "c1",
      ),
    ).toBe(d);
  });

  it("changes with the messages, prompt, options, tools, format, user, unknown fields or conversation", () => {
    const d = requestDigest(req(base), "c1");
    const others = [
      { ...base, messages: [{ role: "user", content: "ho" }] },
      { ...base, prompt: "also" },
      { ...base, options: { temperature: 0.3, seed: 1 } },
      { ...base, tools: [{ name: "clock" }] },
      { ...base, format: { type: "string" } },
      { ...base, user: "u1" },
      { ...base, extra: 1 },
    ];
    for (const o of others) expect(requestDigest(req(o), "c1")).not.toBe(d);
    expect(requestDigest(req(base), "c2")).not.toBe(d);
    expect(requestDigest(req(base), undefined)).not.toBe(d);
  });

  it("a JSON, a msgpack and a plain-text copy of one prompt are one request", () => {
    const h = (ct: string) => {
      const x = headers();
      x.set(Header.ContentType, ct);
      return x;
    };
    const reply = `_INBOX.${NUID_A}.${NUID_B}`;
    const text = parseInbound({ data: new TextEncoder().encode("hello"), reply }, 1000);
    const json = parseInbound({ data: encode({ prompt: "hello", stream: true }, "json"), headers: h("application/json"), reply }, 1000);
    const mp = parseInbound({ data: encode({ prompt: "hello" }, "msgpack"), headers: h("application/msgpack"), reply }, 1000);
    expect(json.claim).toEqual(text.claim);
    expect(mp.claim).toEqual(text.claim);
    expect(text.claim.caller).toBe("_INBOX");
  });
});

describe("claimConflict", () => {
  const a = { caller: "_INBOX.core", digest: "d1" };
  it("the same claim may reuse the id", () => expect(claimConflict("r1", a, { ...a })).toBeUndefined());
  it("another caller is refused without naming the holder", () => {
    const why = claimConflict("r1", a, { caller: "_INBOX.serve", digest: "d1" });
    expect(why).toMatch(/request id 'r1' belongs to another caller's request.*fresh request id/);
    expect(why).not.toContain("core");
  });
  it("another body is refused", () =>
    expect(claimConflict("r1", a, { caller: "_INBOX.core", digest: "d2" })).toMatch(/different request.*fresh request id/));
});
