import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type TlsOptions } from "@nats-io/transport-node";
import { Encoding } from "../schemas/index.ts";
import { MeshCode, MeshError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

export interface MeshOptions {
  /** NATS server URLs; default `NATS_URL` or nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** Client name shown by `nats server report connections`; default "lyra". */
  name?: string;
  /** Path to a creds file (JWT + nkey seed). */
  credsFile?: string;
  /** Path to a file holding an nkey seed (SU...), as `lyra auth` writes it. */
  nkeyFile?: string;
  token?: string;
  user?: string;
  pass?: string;
  tls?: TlsOptions;
  /** Private inbox prefix, so permissions can confine replies; default "_INBOX". */
  inboxPrefix?: string;
  /** Reconnect forever by default (-1); set a number to give up. */
  maxReconnectAttempts?: number;
  /** Wait between reconnect attempts, ms; default 1000. */
  reconnectTimeWaitMs?: number;
  /** Time allowed for the first connect, ms; default 5000. */
  timeoutMs?: number;
  /**
   * Capture async stack traces for failed requests; default false: nats.js otherwise builds an
   * Error with a stack for every request, about 7 % of a busy conductor's CPU.
   */
  asyncTraces?: boolean;
  /** Publishers' body encoding; default msgpack, `LYRA_ENCODING=json` switches the mesh to JSON. */
  encoding?: Encoding;
  /** The region this process runs in (config mesh.region); default none. */
  region?: string;
  log?: Logger;
}

/** A connection to the mesh. One per process; everything else borrows it. */
export interface Mesh extends AsyncDisposable {
  readonly nc: NatsConnection;
  /** The process's root logger; components take children of it. */
  readonly log: Logger;
  readonly encoding: Encoding;
  /** The region this process runs in: its role calls prefer replicas there, its replicas advertise it; undefined: none. */
  readonly region?: string;
  /** The server's max_payload in bytes. */
  maxPayload(): number;
  /** Closes at once; pending requests are rejected. */
  close(): Promise<void>;
  /** Flushes subscriptions and outgoing messages, then closes. */
  drain(): Promise<void>;
  /** Resolves when the connection has closed, for whatever reason; never rejects. */
  closed(): Promise<void>;
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/**
 * The oldest nats-server the mesh runs on: 2.10 added what the production config and the conductor
 * rely on (JetStream `sync_interval`, reasons on `+TERM`). The tests run on the version
 * `npm run setup` pins (infra/setup/versions.sh).
 */
export const MIN_NATS_SERVER = "2.10.0";

/** Whether a server version string ("2.9.10", "v2.15.3-beta") is at least `min`. */
export function versionAtLeast(version: string, min: string): boolean {
  const parse = (v: string) =>
    v
      .replace(/^v/, "")
      .split(/[.-]/, 3)
      .map((p) => Number.parseInt(p, 10) || 0);
  const [a, b] = [parse(version), parse(min)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export async function connectMesh(opts: MeshOptions = {}): Promise<Mesh> {
  const root = opts.log ?? silentLogger;
  const log = root.child({ component: "nats" });
  const servers = opts.servers ?? process.env.NATS_URL?.split(",") ?? DEFAULT_NATS_URL;
  const encoding = opts.encoding ?? encodingFromEnv();
  let authenticator;
  if (opts.credsFile) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(opts.credsFile);
    } catch (err) {
      throw new MeshError(MeshCode.CredsUnreadable, `cannot read NATS creds file '${opts.credsFile}': check the path and its permissions`, {
        cause: err,
      });
    }
    authenticator = credsAuthenticator(creds);
  } else if (opts.nkeyFile) {
    authenticator = nkeyAuthenticator(readSecret(opts.nkeyFile, "nkey seed"));
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: opts.name ?? "lyra",
      authenticator,
      token: opts.token,
      user: opts.user,
      pass: opts.pass,
      tls: opts.tls,
      inboxPrefix: opts.inboxPrefix,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
      timeout: opts.timeoutMs ?? 5000,
      noAsyncTraces: !(opts.asyncTraces ?? false),
    });
  } catch (err) {
    throw new MeshError(
      MeshCode.ConnectFailed,
      `cannot connect to NATS at ${[servers].flat().join(",")}: ${(err as Error).message}; start nats-server or set NATS_URL`,
      { cause: err },
    );
  }
  const version = nc.info?.version ?? "";
  if (!versionAtLeast(version, MIN_NATS_SERVER)) {
    await nc.close().catch(() => undefined);
    throw new MeshError(
      MeshCode.ServerTooOld,
      `nats-server ${version} at ${nc.getServer()} is too old: Lyra mesh needs ${MIN_NATS_SERVER} or later (JetStream ` +
        `sync_interval, +TERM reasons); ` +
        "install a current one with 'npm run setup' (or from the NATS releases)",
    );
  }
  log.info({ server: nc.getServer(), version, name: opts.name ?? "lyra" }, "connected to NATS");
  // The status loop ends when the connection closes, so it is owned by the connection.
  const watching = (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "error") log.warn({ status: s }, `NATS ${s.type}`);
      else if (s.type === "reconnect") log.info({ status: s }, "NATS reconnected");
      else log.debug({ status: s }, `NATS ${s.type}`);
    }
  })().catch(() => undefined);
  const closed = nc.closed().then(
    async (err) => {
      if (err) log.error({ err }, "NATS connection closed with an error");
      await watching;
    },
    () => undefined,
  );
  const close = async () => {
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
    await closed;
  };
  return {
    nc,
    log: root,
    encoding,
    region: opts.region,
    maxPayload: () => nc.info?.max_payload ?? 1024 * 1024,
    close,
    drain: async () => {
      if (!nc.isClosed() && !nc.isDraining()) await nc.drain().catch(() => undefined);
      await closed;
    },
    closed: () => closed,
    [Symbol.asyncDispose]: close,
  };
}

function readSecret(path: string, what: string): Uint8Array {
  try {
    return new TextEncoder().encode(readFileSync(path, "utf8").trim());
  } catch (err) {
    throw new MeshError(
      MeshCode.CredsUnreadable,
      `cannot read NATS ${what} file '${path}': check the path and its permissions (run 'lyra auth' to create it)`,
      { cause: err },
    );
  }
}

function encodingFromEnv(): Encoding {
  const v = process.env.LYRA_ENCODING;
  if (v === undefined || v === "" || v === Encoding.Msgpack) return Encoding.Msgpack;
  if (v === Encoding.Json) return Encoding.Json;
  throw new MeshError(MeshCode.InvalidEncoding, `LYRA_ENCODING='${v}' is not an encoding: use 'msgpack' or 'json'`);
}
