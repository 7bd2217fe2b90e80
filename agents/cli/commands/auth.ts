import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { nkeys } from "@nats-io/nats-core";
import { meshUsers, renderAuthConf, type AuthUser } from "../../../mesh/index.ts";
import { defineCommand, UsageError } from "../command.ts";
import { configHelp, configOption, loadConfig } from "../config.ts";

export const auth = defineCommand({
  name: "auth",
  summary: "Generate the NATS authorization of every mesh process: nkey users with per-process permissions, and their connection settings.",
  usage: "[--config FILE] [--out DIR]",
  options: { ...configOption, out: { type: "string", short: "o", default: "creds" } },
  help: { ...configHelp, out: "directory for auth.conf, the nkey seeds (<user>.nk) and connection settings (<user>.env)" },
  details:
    "Writes DIR/auth.conf (include it in every nats-server node's config), " +
    "and per user (agent-<host>, core, tools, discord, serve, cli, and leaf-<host> for a host with leaf: true)\n" +
    "DIR/<user>.nk (its nkey seed) and DIR/<user>.env (NATS_NKEY_FILE and NATS_INBOX_PREFIX for that process), all mode 0600.\n" +
    "Existing seeds are kept, so re-running after a config change only changes permissions. Never commit DIR.",
  async run(values) {
    const path = (values.config as string | undefined) ?? process.env.LYRA_CONFIG;
    const cfg = await loadConfig(values);
    const out = resolve(values.out as string);
    mkdirSync(out, { recursive: true, mode: 0o700 });
    const users: AuthUser[] = meshUsers(cfg).map((u) => {
      const seedFile = join(out, `${u.name}.nk`);
      const pair = existsSync(seedFile) ? fromSeedFile(seedFile) : nkeys.createUser();
      writeSecret(seedFile, `${new TextDecoder().decode(pair.getSeed())}\n`);
      writeSecret(join(out, `${u.name}.env`), `NATS_NKEY_FILE=${seedFile}\nNATS_INBOX_PREFIX=${u.inboxPrefix}\n`);
      return { ...u, nkey: pair.getPublicKey() };
    });
    writeSecret(join(out, "auth.conf"), renderAuthConf(users, path ?? "the development config"));
    for (const u of users) process.stdout.write(`${u.name.padEnd(20)} ${u.kind.padEnd(10)} ${u.nkey}  ${join(out, `${u.name}.env`)}\n`);
    process.stdout.write(`\nnats-server include: ${join(out, "auth.conf")}\n`);
    return 0;
  },
});

function fromSeedFile(file: string): ReturnType<typeof nkeys.createUser> {
  try {
    const pair = nkeys.fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").trim()));
    if (!pair.getPublicKey().startsWith("U")) throw new Error("not a user seed");
    return pair;
  } catch (err) {
    throw new UsageError(`${file} is not an nkey user seed (${(err as Error).message}); delete it to have a new one generated`);
  }
}

/** Secrets are 0600 even when the file already existed with looser bits. */
function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}
