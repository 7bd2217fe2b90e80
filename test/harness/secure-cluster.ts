/**
 * The production NATS layout for tests: three nodes run infra/nats/nats.conf as committed (TLS on
 * client and route connections with certificates from infra/nats/gen-dev-certs.sh, JetStream,
 * monitoring, the authorization `lyra auth` generated), on loopback with random ports.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, requireNatsServer, startNatsServer, type NatsServer } from "./nats-server.ts";

export const INFRA_NATS = fileURLToPath(new URL("../../infra/nats/", import.meta.url));

export interface SecureCluster extends AsyncDisposable {
  /** Client URLs, one per node. */
  readonly urls: string[];
  /** The development CA clients trust. */
  readonly caFile: string;
  readonly nodes: NatsServer[];
  /** SIGKILLs node i (no shutdown, no flush). */
  kill(i: number): Promise<void>;
  /** Starts node i again on its port and store. */
  restart(i: number): Promise<void>;
}

/** Makes a development CA and node certificate with the committed script. */
export function makeDevCerts(dir: string): void {
  const r = spawnSync("sh", [join(INFRA_NATS, "gen-dev-certs.sh"), dir], { encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`infra/nats/gen-dev-certs.sh failed (install openssl: 'sudo apt-get install openssl'): ${r.stderr}${r.error ?? ""}`);
}

export async function startSecureCluster(o: { authConf: string; n?: number }): Promise<SecureCluster> {
  requireNatsServer();
  const n = o.n ?? 3;
  const dir = mkdtempSync(join(tmpdir(), "lyra-cluster-"));
  const certs = join(dir, "certs");
  makeDevCerts(certs);
  // The committed config as it is, sync_interval: always included.
  // The leaf node port is random: nodes share one machine.
  const conf = readFileSync(join(INFRA_NATS, "nats.conf"), "utf8").replaceAll("/etc/nats/", `${dir}/`).replace("port: 7422", "port: -1");
  for (let i = 0; i < n; i++) {
    mkdirSync(join(dir, `n${i}`));
    writeFileSync(join(dir, `n${i}`, "nats.conf"), conf.replace("/var/lib/nats/jetstream", join(dir, `n${i}`, "js")));
    writeFileSync(join(dir, `n${i}`, "auth.conf"), o.authConf);
  }
  const routePorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const httpPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(",");
  const nodes: NatsServer[] = [];
  const start = (i: number, port?: number) => {
    // JetStream and its store come from the node's config file, not the harness's -js -sd.
    return startNatsServer({
      configFile: join(dir, `n${i}`, "nats.conf"),
      env: { NATS_SERVER_NAME: `nats-${i}` },
      jetstream: false,
      port,
      args: ["--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes, "-m", String(httpPorts[i])],
    });
  };
  const stopAll = async () => {
    await Promise.all(nodes.map((s) => s[Symbol.asyncDispose]()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) nodes.push(await start(i));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    urls: nodes.map((s) => s.url),
    caFile: join(certs, "ca.pem"),
    nodes,
    kill: (i) => nodes[i]!.kill(),
    async restart(i) {
      const old = nodes[i]!;
      await old[Symbol.asyncDispose]();
      nodes[i] = await start(i, old.port);
    },
    [Symbol.asyncDispose]: stopAll,
  };
}
