import { once } from "node:events";
import { createServer, connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { gapFor, UNADVERTISED_GAP_MS } from "../../../mesh/rolecall/call.ts";
import { createMailbox } from "../../../mesh/rolecall/mailbox.ts";

describe("keep-alive gap", () => {
  it("is 4 advertised keep-alive periods, at least 1 s", () => {
    expect(gapFor("250")).toBe(1000);
    expect(gapFor("1000")).toBe(4000);
    expect(gapFor("100")).toBe(1000);
  });

  it("is the old 5 s when the responder advertises nothing usable", () => {
    for (const v of [undefined, "", "0", "-5", "soon"]) expect(gapFor(v)).toBe(UNADVERTISED_GAP_MS);
    expect(UNADVERTISED_GAP_MS).toBe(5000);
  });
});

describe("mailbox waits and a stalled event loop", () => {
  it("a message that arrived while this process was busy is taken, not reported as a timeout", async () => {
    const server = createServer((s) => s.write("x"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const box = createMailbox<string>();
    const sock = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await once(sock, "connect");
    const waiting = box.take(5);
    sock.on("data", (d: Buffer) => box.push(d.toString()));
    // Busy past the wait, with the server's byte already in the socket: the timer and the read
    // are both due when the loop turns, and timers run first.
    const until = Date.now() + 50;
    while (Date.now() < until) {
      // spin
    }
    expect(await waiting).toBe("x");
    sock.destroy();
    server.close();
  });
});
