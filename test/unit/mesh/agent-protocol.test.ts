/** The pure parts of Lyra's NATS Agent Protocol 0.3 mapping: sizes, error codes, typed errors. */
import { describe, expect, it } from "vitest";
import { CallCode, isWireCode, wireFormOf, WireCode } from "../../../schemas/index.ts";
import {
  BusyError,
  DeadlineExceededError,
  InternalError,
  ReplyTooLargeError,
  roleCallError,
  UnavailableError,
} from "../../../mesh/errors.ts";
import { formatSize, promptMetadata } from "../../../mesh/rolecall/service.ts";

describe("max_payload (§2.1)", () => {
  it.each([
    [1024 * 1024, "1MB"],
    [512 * 1024, "512KB"],
    [8 * 1024 ** 3, "8GB"],
    [1_000_000, "1000000B"],
    [1536, "1536B"],
    [512, "512B"],
  ])("%d bytes is written %s: an integer and a unit, exact", (n, s) => {
    expect(formatSize(n)).toBe(s);
  });

  it("endpoint metadata values are strings, as micro metadata must be", () => {
    expect(promptMetadata(1024, true)).toEqual({ max_payload: "1KB", attachments_ok: "true" });
  });
});

describe("error codes (§9.2)", () => {
  it("every code a responder can send is in the spec's table", () => {
    for (const c of Object.values(CallCode)) expect(isWireCode(wireFormOf(c, undefined))).toBe(true);
    expect(isWireCode(wireFormOf(CallCode.Unavailable, "shutting_down"))).toBe(true);
  });

  it("Lyra's cases map onto the table: deadline → 409, shutting down → 429, unavailable, reply too large → 500; others as is", () => {
    expect(wireFormOf(CallCode.Timeout)).toBe(WireCode.Conflict);
    expect(wireFormOf(CallCode.PayloadTooLarge)).toBe(WireCode.Internal);
    expect(wireFormOf(CallCode.Unavailable, "shutting_down")).toBe(WireCode.Busy);
    expect(wireFormOf(CallCode.Unavailable, "backend_unavailable")).toBe(WireCode.Internal);
    expect(wireFormOf(CallCode.Busy)).toBe(429);
    expect(wireFormOf(CallCode.BadRequest)).toBe(400);
  });

  it("Lyra's client rebuilds its typed errors from lyra_status, whatever spec code carried them", () => {
    expect(roleCallError(409, "r", "late", { error: "deadline_exceeded", lyra_status: 408 })).toBeInstanceOf(DeadlineExceededError);
    const down = roleCallError(429, "r", "bye", { error: "shutting_down", lyra_status: 503, retry_after_s: 1 });
    expect(down).toBeInstanceOf(UnavailableError);
    expect(down.status).toBe(503);
    expect(roleCallError(429, "r", "busy", { error: "busy", retry_after_s: 2 })).toBeInstanceOf(BusyError);
    const big = roleCallError(500, "r", "too big", { error: "payload_too_large", lyra_status: 413 });
    expect(big).toBeInstanceOf(ReplyTooLargeError);
    expect(big.status).toBe(413);
    // A spec agent's 409 is a plain conflict; an unknown code is internal.
    expect(roleCallError(409, "r", "conflict").status).toBe(409);
    expect(roleCallError(418, "r", "teapot")).toBeInstanceOf(InternalError);
  });
});
