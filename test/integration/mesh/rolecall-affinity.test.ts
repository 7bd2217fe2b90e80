/**
 * Warm-cache affinity over two replicas of a role: a conversation's calls stick to the replica
 * that answered its previous one (and the route says so), other conversations spread, load
 * overrides the stickiness, and a dead replica is not chosen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../../mesh/connect.ts";
import { createRoleClient, serveRole, type RoleClient, type RoleHandler, type RoleResponder } from "../../../mesh/rolecall/index.ts";
import { subjects } from "../../../mesh/subjects.ts";
import { ReplicaState } from "../../../schemas/index.ts";
import { finalInfo } from "../../fixtures/scripted.ts";
import { eventually } from "../../harness/eventually.ts";
import { startMeshFixture, type MeshFixture } from "../../harness/mesh.ts";
import { gate } from "./helpers.ts";

const ROLE = "specialist";
let fx: MeshFixture;
let client: RoleClient;
const replicas: Record<string, { mesh: Mesh; responder: RoleResponder }> = {};
let held = gate();

/** Answers with its host; a prompt "hold" waits for the test to open the gate. */
const handler = (host: string): RoleHandler =>
  async function* (req) {
    if (req.prompt === "hold") await held.promise;
    yield { type: "response", data: `from ${host}` };
    yield { type: "final", data: finalInfo(host, ROLE) };
  };

async function replica(host: string) {
  const mesh = await fx.connect();
  const responder = await serveRole(mesh, {
    role: ROLE,
    host,
    handler: handler(host),
    concurrency: 2,
    heartbeatIntervalS: 0,
    stateIntervalMs: 100,
  });
  fx.own(responder);
  await mesh.nc.flush();
  replicas[host] = { mesh, responder };
}

const call = (conversation: string, prompt = "hi") => client.call(ROLE, { prompt, conversation });
/** The latest capacity state of each replica, as the client sees it (same connection, same order). */
const latest = new Map<string, ReplicaState>();
/** Until `host` runs `n` calls and the client has its state saying so. */
const running = (host: string, n: number) =>
  eventually(`${n} held calls in flight at ${host}`, () => replicas[host]!.responder.inFlight() === n && latest.get(host)?.in_flight === n);
const other = (host: string) => (host === "a" ? "b" : "a");

beforeAll(async () => {
  fx = await startMeshFixture();
  client = fx.own(createRoleClient(fx.caller));
  // The client learns both replicas' state from the feed; this subscription sees what it sees.
  fx.caller.nc.subscribe(subjects.roleStateAll, {
    callback: (_e, m) => {
      const st = ReplicaState.parse(m.json());
      latest.set(st.host, st);
    },
  });
  await replica("a");
  await replica("b");
  await eventually("both replicas' state reached the caller", () => latest.has("a") && latest.has("b"));
});
afterAll(() => fx?.[Symbol.asyncDispose]());

describe("warm-cache affinity", () => {
  it("sends a conversation's calls to the replica that answered its previous one, and says so", async () => {
    const first = await call("c-stick");
    expect(first.route).toMatch(/^(a|b): model warm/);
    for (let turn = 1; turn <= 5; turn++) {
      const r = await call("c-stick");
      expect(r.host).toBe(first.host);
      expect(r.text).toBe(`from ${first.host}`);
      expect(r.route).toMatch(new RegExp(`^${first.host}: affinity: served this conversation's turn ${turn}, \\d of 2 slots free`));
    }
  });

  it("lets other conversations go to the other replica, each sticking to its own", async () => {
    const homes = new Map<string, string>();
    // A new conversation is placed by capacity (the better of two at random): over 20, both replicas serve.
    for (let i = 0; i < 20; i++) homes.set(`c-spread-${i}`, (await call(`c-spread-${i}`)).host);
    expect(new Set(homes.values())).toEqual(new Set(["a", "b"]));
    for (const [conversation, host] of homes) expect((await call(conversation)).host).toBe(host);
  });

  it("overrides affinity when the replica is full and its in-flight work over twice the others' average", async () => {
    const home = (await call("c-load")).host;
    held = gate();
    // The held calls go home (it has a free slot for each) and fill it.
    const holding = [call("c-load", "hold")];
    await running(home, 1);
    holding.push(call("c-load", "hold"));
    await running(home, 2);
    const r = await call("c-load");
    expect(r.host).toBe(other(home));
    expect(r.route).toMatch(new RegExp(`^${other(home)}: model warm, .*affinity to ${home} overridden: overloaded`));
    held.open();
    for (const h of await Promise.all(holding)) expect(h.host).toBe(home);
  });

  it("does not choose a dead replica: the conversation moves to the live one", async () => {
    const home = (await call("c-dead")).host;
    const live = other(home);
    // Its connection goes: no more state, nobody on its subject.
    await replicas[home]!.mesh.close();
    const r = await eventually("a call placed directly on the live replica", async () => {
      const res = await call("c-dead");
      return res.route?.startsWith(`${live}: `) && res;
    });
    expect(r.host).toBe(live);
    expect(r.attempts).toBe(1);
    // And it sticks there now.
    expect((await call("c-dead")).route).toMatch(new RegExp(`^${live}: affinity: served this conversation's turn \\d+`));
  });
});
