/**
 * Two regions and a GPU box behind NAT, as infra/nats deploys them, on loopback: region A's and
 * region B's node each run infra/nats/region.conf as committed (TLS, JetStream, the authorization
 * from `lyra auth`), joined by their gateway; the box's node runs infra/nats/leaf.conf and dials
 * region B's leaf node port, authenticated as the box's agent user. Ports are random.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireNatsServer, startNatsServer, type NatsServer } from "./nats-server.ts";
import { INFRA_NATS, makeDevCerts } from "./secure-cluster.ts";

export interface Regions extends AsyncDisposable {
  /** Client URL of region A's node. */
  readonly a: string;
  /** Client URL of region B's node. */
  readonly b: string;
  /** Client URL of the box's leaf node (loopback, no credentials). */
  readonly leaf: string;
  readonly caFile: string;
  readonly nodes: NatsServer[];
}

export interface RegionsOptions {
  /** auth.conf from `lyra auth`, included by both regions' nodes. */
  authConf: string;
  /** The nkey seed the leaf authenticates with (the box's agent user's). */
  leafSeed: string;
  /** Region names; default "a" and "b". */
  names?: [string, string];
}

export async function startRegions(o: RegionsOptions): Promise<Regions> {
  requireNatsServer();
  const [ra, rb] = o.names ?? ["a", "b"];
  const dir = mkdtempSync(join(tmpdir(), "lyra-regions-"));
  const certs = join(dir, "certs");
  makeDevCerts(certs);
  const read = (f: string) => readFileSync(join(INFRA_NATS, f), "utf8").replaceAll("/etc/nats/", `${dir}/`);
  const [gwA, gwB, leafPort, routeA, routeB] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const nodes: NatsServer[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((s) => s[Symbol.asyncDispose]()));
    rmSync(dir, { recursive: true, force: true });
  };
  const region = async (name: string, peer: string, gateway: number, peerGateway: number, route: number, leaf: number | "-1") => {
    const d = join(dir, name);
    mkdirSync(d);
    writeFileSync(join(d, "auth.conf"), o.authConf);
    writeFileSync(
      join(d, "nats.conf"),
      read("nats.conf").replace("/var/lib/nats/jetstream", join(d, "js")).replace("port: 7422", `port: ${leaf}`),
    );
    // The gateway advertises loopback, as its certificate names it (not the machine's address).
    writeFileSync(
      join(d, "region.conf"),
      read("region.conf").replace("port: 7222", `port: ${gateway}\n  advertise: "127.0.0.1:${gateway}"`),
    );
    return startNatsServer({
      configFile: join(d, "region.conf"),
      jetstream: false, // from the config
      env: {
        NATS_SERVER_NAME: `${name}-nats-0`,
        NATS_REGION: name,
        NATS_PEER_REGION: peer,
        NATS_PEER_GATEWAY: `nats://127.0.0.1:${peerGateway}`,
      },
      // One node per region: its routes to nats-1 and nats-2 replaced by itself.
      args: ["--cluster", `nats://127.0.0.1:${route}`, "--routes", `nats-route://127.0.0.1:${route}`, "-m", String(await freePort())],
    });
  };
  try {
    nodes.push(await region(ra, rb, gwA, gwB, routeA, "-1"));
    nodes.push(await region(rb, ra, gwB, gwA, routeB, leafPort));
    writeFileSync(join(dir, "leaf.conf"), read("leaf.conf"));
    nodes.push(
      await startNatsServer({
        configFile: join(dir, "leaf.conf"),
        jetstream: false,
        env: { NATS_SERVER_NAME: "gpu-box", NATS_HUB_URL: `tls://127.0.0.1:${leafPort}`, NATS_LEAF_SEED: o.leafSeed },
        args: ["-m", String(await freePort())],
      }),
    );
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    a: nodes[0]!.url,
    b: nodes[1]!.url,
    leaf: nodes[2]!.url,
    caFile: join(certs, "ca.pem"),
    nodes,
    [Symbol.asyncDispose]: stopAll,
  };
}
