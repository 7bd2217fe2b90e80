/** `lyra auth` run for real on a test config, and connections as its users. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMesh, type Mesh } from "../../../mesh/connect.ts";
import { runLyra } from "../../harness/committee-fixture.ts";

export interface GeneratedAuth {
  dir: string;
  /** The mesh config it was generated from. */
  configFile: string;
  /** The include file's text. */
  conf: string;
  /** A user's settings as its .env file gives them. */
  env(user: string): { NATS_NKEY_FILE: string; NATS_INBOX_PREFIX: string };
}

/** Writes `yaml` to a temp dir and runs `lyra auth --out <dir>/creds` on it. */
export async function generateAuth(yaml: string): Promise<GeneratedAuth> {
  const dir = mkdtempSync(join(tmpdir(), "lyra-auth-"));
  const cfg = join(dir, "mesh.yaml");
  writeFileSync(cfg, yaml);
  const out = join(dir, "creds");
  const p = runLyra(["auth", "--config", cfg, "--out", out]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`lyra auth failed (${code}):\n${p.output()}`);
  return {
    dir: out,
    configFile: cfg,
    conf: readFileSync(join(out, "auth.conf"), "utf8"),
    env(user) {
      const text = readFileSync(join(out, `${user}.env`), "utf8");
      const kv = Object.fromEntries(
        text
          .trim()
          .split("\n")
          .map((l) => l.split("=", 2) as [string, string]),
      );
      return kv as { NATS_NKEY_FILE: string; NATS_INBOX_PREFIX: string };
    },
  };
}

/** Connects as one generated user, with its nkey and private inbox prefix. */
export function connectAs(auth: GeneratedAuth, user: string, servers: string | string[], caFile?: string): Promise<Mesh> {
  const env = auth.env(user);
  return connectMesh({
    servers,
    name: user,
    nkeyFile: env.NATS_NKEY_FILE,
    inboxPrefix: env.NATS_INBOX_PREFIX,
    tls: caFile ? { caFile } : undefined,
    timeoutMs: 10_000,
  });
}
