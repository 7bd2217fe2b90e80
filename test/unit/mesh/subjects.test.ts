import { describe, expect, it } from "vitest";
import { MeshError } from "../../../mesh/errors.ts";
import { parseInboxSubject, roleOfSubject, subjects, token } from "../../../mesh/subjects.ts";

describe("subjects", () => {
  it("builds the documented subjects", () => {
    expect(subjects.role("voice")).toBe("lyra.voice");
    expect(subjects.agentsQueue).toBe("agents");
    expect(subjects.agentPrompt("lyra", "voice")).toBe("agents.prompt.lyra.lyra.voice");
    expect(subjects.agentStatus("ops", "voice")).toBe("agents.status.lyra.ops.voice");
    expect(subjects.cancel("abc_123")).toBe("lyra.cancel.abc_123");
    expect(subjects.outbox("discord", "c-1")).toBe("lyra.outbox.discord.c-1");
    expect(subjects.log("c-1")).toBe("lyra.log.c-1");
    expect(subjects.heartbeat("lyra", "voice")).toBe("agents.hb.lyra.lyra.voice");
    expect(subjects.heartbeatAll).toBe("agents.hb.*.*.*");
  });

  it.each(["*", ">", "a.b", "a b", "", "x".repeat(129), "tab\there", "ünïcode"])("rejects the token %j", (bad) => {
    expect(() => token("conversation", bad)).toThrow(MeshError);
    expect(() => subjects.cancel(bad)).toThrow(/not a valid subject token/);
  });

  it.each(["Voice", "voice.x", "*", ">", "-voice", "", "inbox", "outbox", "log", "cancel", "v".repeat(64)])(
    "rejects the role %j",
    (bad) => {
      expect(() => subjects.role(bad)).toThrow(MeshError);
    },
  );

  it("says what to change in the error", () => {
    expect(() => subjects.role("inbox")).toThrow(/lowercase letters, digits and '-'/);
  });

  it("reads the role back from a role subject only", () => {
    expect(roleOfSubject("lyra.voice")).toBe("voice");
    expect(roleOfSubject("agents.prompt.lyra.ops.voice")).toBe("voice");
    expect(roleOfSubject("agents.prompt.other.ops.voice")).toBeUndefined();
    expect(roleOfSubject("lyra.inbox.discord")).toBeUndefined();
    expect(roleOfSubject("other.voice")).toBeUndefined();
    expect(roleOfSubject("lyra.voice.5KLFGGK6NV3XIBBKHFUBW6")).toBe("voice");
    expect(roleOfSubject("lyra.log.c1")).toBeUndefined();
    expect(roleOfSubject("lyra.cancel.r1")).toBeUndefined();
  });

  it("builds the capacity-aware dispatch subjects, validating every token", () => {
    expect(subjects.roleInstance("voice", "abc123")).toBe("lyra.voice.abc123");
    expect(subjects.roleState("voice", "abc123")).toBe("lyra.state.voice.abc123");
    expect(subjects.roleStateAll).toBe("lyra.state.>");
    expect(() => subjects.roleInstance("voice", "a.b")).toThrow(/instance/);
    expect(() => subjects.role("state")).toThrow(/not a valid role name/);
  });

  it("reads the channel and conversation back from an inbox subject only", () => {
    expect(parseInboxSubject(subjects.inbox("openai", "c-1"))).toEqual({ channel: "openai", conversation: "c-1" });
    expect(parseInboxSubject("lyra.inbox.openai")).toBeUndefined();
    expect(parseInboxSubject("lyra.inbox.openai.c1.more")).toBeUndefined();
    expect(parseInboxSubject("lyra.outbox.openai.c1")).toBeUndefined();
    expect(parseInboxSubject("lyra.inbox.open*ai.c1")).toBeUndefined();
  });
});
