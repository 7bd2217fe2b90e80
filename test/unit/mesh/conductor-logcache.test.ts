import { describe, expect, it } from "vitest";
import { buildHistory } from "../../../mesh/conductor/history.ts";
import { trimToTurns } from "../../../mesh/conductor/logcache.ts";
import type { LogEvent } from "../../../schemas/index.ts";

const base = (turn: string) => ({ ts: 1, conversation: "c", turn });
const user = (turn: string, text = `question ${turn}`): LogEvent => ({
  ...base(turn),
  type: "user_message",
  channel: "cli",
  user: { id: "u" },
  text,
});
const reply = (turn: string, text = `answer ${turn}`): LogEvent => ({ ...base(turn), type: "voice_reply", text });
const step = (turn: string): LogEvent => ({ ...base(turn), type: "specialist_started", specialist: "pragmatist" });
const error = (turn: string): LogEvent => ({ ...base(turn), type: "error", step: "inbox", code: "dead_letter", message: "gave up" });

/** A conversation of `n` complete turns, with a dead letter and a turn that never got its reply. */
function conversation(n: number): LogEvent[] {
  const out: LogEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = `t${i}`;
    if (i === 3) out.push(error("dead3")); // a dead-lettered message: no user_message
    out.push(user(t), step(t));
    if (i !== 5) out.push(reply(t)); // turn 5 failed before its reply
  }
  return out;
}

describe("trimToTurns (the conductor's cached history)", () => {
  it("buildHistory over the trimmed events equals buildHistory over them all", () => {
    for (const n of [0, 1, 5, 11, 12, 30]) {
      for (const turns of [0, 1, 3, 10]) {
        const events = conversation(n);
        const trimmed = trimToTurns(events, turns + 1);
        for (const exclude of ["new-turn", `t${n - 1}`]) {
          expect(buildHistory(trimmed, exclude, { turns })).toEqual(buildHistory(events, exclude, { turns }));
        }
        expect(buildHistory(trimmed, "x", { turns, bytes: 40 })).toEqual(buildHistory(events, "x", { turns, bytes: 40 }));
      }
    }
  });

  it("keeps every event of the newest turns, the one being re-run included", () => {
    const events = [...conversation(20), user("t20"), step("t20")];
    const trimmed = trimToTurns(events, 3);
    expect(trimmed.filter((e) => e.turn === "t20")).toEqual([user("t20"), step("t20")]);
    expect(new Set(trimmed.map((e) => e.turn))).toEqual(new Set(["t18", "t19", "t20"]));
  });

  it("leaves a short conversation as it is", () => {
    const events = conversation(4);
    expect(trimToTurns(events, 11)).toBe(events);
  });
});
