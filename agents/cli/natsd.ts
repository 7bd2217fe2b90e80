/** Starts a local nats-server with JetStream for `lyra up`. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface LocalNats {
  url: string;
  close(): Promise<void>;
}

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: "127.0.0.1" });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** 4222 when it is free (so `nats sub` works without flags), else the next free port. */
export async function startLocalNats(preferredPort = 4222): Promise<LocalNats> {
  let port = preferredPort;
  while (await portInUse(port)) port++;
  const store = mkdtempSync(join(tmpdir(), "lyra-up-"));
  let proc: ChildProcess;
  try {
    proc = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new Error(`cannot start nats-server: ${(err as Error).message}`, { cause: err });
  }
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    proc.once("error", (err) =>
      reject(
        new Error(
          `nats-server is not installed (${err.message}); ` +
            `run 'npm run setup' (or install a current release from NATS), or set NATS_URL to a running server`,
        ),
      ),
    ),
  );
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited: ${stderr.trim()}`);
      if (await portInUse(port)) return;
      await sleep(25);
    }
    throw new Error("nats-server did not start within 5 s");
  })();
  await Promise.race([ready, spawnError]);
  return {
    url: `nats://127.0.0.1:${port}`,
    async close() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
      rmSync(store, { recursive: true, force: true });
    },
  };
}
