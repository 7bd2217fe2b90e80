/**
 * A Discord API double, written from Discord's developer documentation (API v10), for the real
 * discord.js client: the REST routes the adapter uses and the gateway WebSocket.
 *
 * REST (under /api/v10): GET /gateway/bot; POST /channels/{id}/messages (JSON or multipart with
 * `payload_json` and `files[n]`); PATCH /channels/{id}/messages/{id}; POST /channels/{id}/typing;
 * POST /interactions/{id}/{token}/callback; PATCH /webhooks/{app}/{token}/messages/@original;
 * POST /webhooks/{app}/{token} (followups); PUT /applications/{app}[/guilds/{guild}]/commands.
 * Rate limits: every response has X-RateLimit-* headers; `rateLimitNext` answers a 429 with
 * `retry_after` (body), Retry-After and X-RateLimit-Reset-After (headers), and the double records
 * whether the retry came after it.
 *
 * Gateway (ws://…/gateway?v=10&encoding=json): HELLO (op 10) → IDENTIFY (op 2, token checked) →
 * READY and GUILD_CREATE dispatches (op 0); heartbeats (op 1) get ACKs (op 11); VOICE_STATE_UPDATE
 * (op 4) is recorded. Tests dispatch MESSAGE_CREATE / INTERACTION_CREATE, or raw frames.
 *
 * No pings: every body that carries content must say `allowed_mentions: { parse: [] }` with no
 * users or roles; otherwise the double answers 400 and records a violation (tests fail on any).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { lifecycle, type Closable } from "../../mesh/lifecycle.ts";
import { sendJson } from "./http.ts";

export const DISCORD_TOKEN = "double-bot-token";

export interface PostedMessage {
  id: string;
  channel_id: string;
  content: string;
  /** Every content the message had, first to last (edits included). */
  history: string[];
  reply_to?: string;
  attachments: { filename: string; size: number; content_type: string; bytes: Buffer }[];
  /** Through an interaction webhook (token), not a channel. */
  webhook?: string;
}

export interface InteractionResponse {
  id: string;
  token: string;
  type: number;
  data?: { content?: string; embeds?: unknown[]; flags?: number };
}

interface Limit {
  match: RegExp;
  retryAfterS: number;
  hitAt?: number;
  retriedAt?: number;
}

export interface DiscordDoubleOptions {
  /** Gateway heartbeat interval, ms; default 500 (Discord's is ~41 s), so tests see heartbeats. */
  heartbeatMs?: number;
}

export interface DiscordDouble extends Closable {
  readonly apiUrl: string;
  readonly botId: string;
  readonly appId: string;
  readonly guildId: string;
  /** A text channel of the guild, and a voice channel. */
  readonly channelId: string;
  readonly voiceChannelId: string;
  /** Messages the bot posted (channel or webhook), by id. */
  readonly messages: Map<string, PostedMessage>;
  readonly interactionResponses: InteractionResponse[];
  readonly typing: string[];
  readonly commands: unknown[];
  /** allowed_mentions violations and other protocol faults of the client. */
  readonly violations: string[];
  /** Gateway ops received: 1 heartbeat, 2 identify, 4 voice state... */
  readonly ops: { op: number; d: unknown }[];
  /** Every REST request: method and path. */
  readonly requests: { method: string; path: string }[];
  /** Dispatches an event to every identified session. */
  dispatch(t: string, d: unknown): void;
  /**
   * Whether the client has read the dispatch whose payload has this `id` (a message, an
   * interaction): on every session it went to, a heartbeat since carried its sequence number or a
   * later one (a heartbeat's `d` is the last sequence number the client received).
   */
  delivered(id: string): boolean;
  /** Sends a raw frame (string) to every identified session. */
  sendRaw(frame: string): void;
  /** A user message (MESSAGE_CREATE); returns its payload. */
  userMessage(o: {
    content: string;
    channelId?: string;
    userId?: string;
    id?: string;
    mention?: boolean;
    dm?: boolean;
    attachments?: unknown[];
  }): Record<string, unknown>;
  /** A slash command (INTERACTION_CREATE); returns its payload. */
  command(
    name: string,
    options?: { name: string; type: number; value: unknown }[],
    o?: { channelId?: string; userId?: string },
  ): Record<string, unknown>;
  /** Serves bytes at a CDN URL (for attachments); returns the URL. */
  addFile(name: string, bytes: Uint8Array): string;
  /** The next request whose `METHOD path` matches gets a 429 with this retry_after. */
  rateLimitNext(match: RegExp, retryAfterS: number): { hitAt(): number | undefined; retriedAt(): number | undefined };
  /** Messages in a channel, oldest first. */
  channelMessages(channelId: string): PostedMessage[];
}

let snowflake = 1_300_000_000_000_000_000n;
export const nextId = (): string => String(snowflake++);

/** The fields of a Discord message object this double never varies (API reference, Message). */
export const plainMessageFields = () => ({
  embeds: [],
  mention_roles: [],
  mention_everyone: false,
  pinned: false,
  tts: false,
  timestamp: new Date().toISOString(),
  edited_timestamp: null,
  flags: 0,
  components: [],
});

export async function startDiscordDouble(opts: DiscordDoubleOptions = {}): Promise<DiscordDouble> {
  const botId = nextId();
  const appId = botId;
  const guildId = nextId();
  const channelId = nextId();
  const voiceChannelId = nextId();
  const messages = new Map<string, PostedMessage>();
  const interactionResponses: InteractionResponse[] = [];
  const typing: string[] = [];
  const commands: unknown[] = [];
  const violations: string[] = [];
  const ops: { op: number; d: unknown }[] = [];
  const requests: { method: string; path: string }[] = [];
  const files = new Map<string, Uint8Array>();
  const limits: Limit[] = [];
  type Session = { ws: WebSocket; seq: number; /** The sequence number of the client's last heartbeat. */ acked: number };
  const sessions = new Set<Session>();
  /** The sequence number each dispatch got on each session, by payload id. */
  const sent = new Map<string, { s: Session; seq: number }[]>();
  const interactionTokens = new Map<string, string>(); // token → interaction id
  let base = "";

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      violations.push(`double failed on ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { message: String(err), code: 0 });
    });
  });

  const rateHeaders = (bucket: string) => ({
    "x-ratelimit-limit": "5",
    "x-ratelimit-remaining": "4",
    "x-ratelimit-reset": String(Date.now() / 1000 + 1),
    "x-ratelimit-reset-after": "1.000",
    "x-ratelimit-bucket": bucket,
  });
  const reply = (res: ServerResponse, status: number, body: unknown, bucket = "b") => {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      ...rateHeaders(bucket),
      ...(text ? { "content-type": "application/json" } : {}),
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };
  const fail = (res: ServerResponse, why: string, status = 400) => {
    violations.push(why);
    reply(res, status, { message: why, code: 50035 });
  };

  /** The JSON body, or payload_json and files of a multipart body. */
  const readBody = async (req: IncomingMessage): Promise<{ json: Record<string, unknown>; files: PostedMessage["attachments"] }> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const type = req.headers["content-type"] ?? "";
    if (!raw.length) return { json: {}, files: [] };
    if (type.startsWith("multipart/form-data")) {
      const form = await new Request("http://double/", { method: "POST", headers: { "content-type": type }, body: raw }).formData();
      const out: PostedMessage["attachments"] = [];
      for (const [k, v] of form) {
        if (!/^files\[\d+\]$/.test(k) || typeof v === "string") continue;
        out.push({ filename: v.name, size: v.size, content_type: v.type, bytes: Buffer.from(await v.arrayBuffer()) });
      }
      const pj = form.get("payload_json");
      return { json: typeof pj === "string" ? (JSON.parse(pj) as Record<string, unknown>) : {}, files: out };
    }
    if (!type.startsWith("application/json")) throw new Error(`body of type '${type}' is neither JSON nor multipart`);
    return { json: JSON.parse(raw.toString("utf8")) as Record<string, unknown>, files: [] };
  };

  /** Discord's documented shape: `allowed_mentions: { parse: [] }` keeps every mention inert. */
  const checkMentions = (where: string, body: Record<string, unknown>): string | undefined => {
    if (body.content === undefined && body.embeds === undefined) return undefined;
    const am = body.allowed_mentions as { parse?: unknown; users?: unknown[]; roles?: unknown[]; replied_user?: boolean } | undefined;
    if (!am || !Array.isArray(am.parse) || am.parse.length > 0 || (am.users?.length ?? 0) > 0 || (am.roles?.length ?? 0) > 0) {
      return `${where}: allowed_mentions must be { parse: [] } (got ${JSON.stringify(am)}): this send could ping`;
    }
    if (am.replied_user === true) return `${where}: allowed_mentions.replied_user is true: the reply pings its author`;
    return undefined;
  };

  const checkContent = (where: string, content: unknown, hasFiles: boolean): string | undefined => {
    if (content === undefined) return hasFiles ? undefined : `${where}: a message needs content, embeds or files`;
    if (typeof content !== "string") return `${where}: content is not a string`;
    if (content.length > 2000) return `${where}: content is ${content.length} characters, over Discord's 2000`;
    if (!content && !hasFiles) return `${where}: empty content and no files`;
    return undefined;
  };

  const post = (channel: string, json: Record<string, unknown>, atts: PostedMessage["attachments"], webhook?: string): PostedMessage => {
    const content = typeof json.content === "string" ? json.content : "";
    const ref = json.message_reference as { message_id?: string } | undefined;
    const m: PostedMessage = {
      id: nextId(),
      channel_id: channel,
      content,
      history: [content],
      attachments: atts,
      ...(ref?.message_id ? { reply_to: ref.message_id } : {}),
      ...(webhook ? { webhook } : {}),
    };
    messages.set(m.id, m);
    return m;
  };
  const apiMessage = (m: PostedMessage) => ({
    id: m.id,
    channel_id: m.channel_id,
    type: m.reply_to ? 19 : 0,
    content: m.content,
    author: { id: botId, username: "lyra", discriminator: "0", bot: true, avatar: null, global_name: null },
    attachments: m.attachments.map((a, i) => ({
      id: String(i),
      filename: a.filename,
      size: a.size,
      url: `${base}/cdn/${a.filename}`,
      proxy_url: `${base}/cdn/${a.filename}`,
    })),
    mentions: [],
    ...plainMessageFields(),
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://double");
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (path.startsWith("/cdn/")) {
      const f = files.get(decodeURIComponent(path.slice(5)));
      if (!f) return sendJson(res, 404, { message: "Unknown attachment" });
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": f.length });
      res.end(f);
      return;
    }
    if (!path.startsWith("/api/v10/")) return reply(res, 404, { message: "404: Not Found", code: 0 });
    const route = decodeURIComponent(path.slice("/api/v10".length));
    requests.push({ method, path: route });
    const key = `${method} ${route}`;
    for (const l of limits) {
      if (l.hitAt !== undefined && l.retriedAt === undefined && l.match.test(key)) l.retriedAt = Date.now();
    }
    const limit = limits.find((l) => l.hitAt === undefined && l.match.test(key));
    if (limit) {
      limit.hitAt = Date.now();
      res.writeHead(429, {
        ...rateHeaders("limited"),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset-after": String(limit.retryAfterS),
        "x-ratelimit-scope": "user",
        "retry-after": String(Math.ceil(limit.retryAfterS)),
        "content-type": "application/json",
      });
      res.end(JSON.stringify({ message: "You are being rate limited.", retry_after: limit.retryAfterS, global: false }));
      return;
    }
    const isWebhook = route.startsWith("/webhooks/") || route.startsWith("/interactions/");
    if (!isWebhook && route !== "/gateway/bot" && req.headers.authorization !== `Bot ${DISCORD_TOKEN}`) {
      return reply(res, 401, { message: "401: Unauthorized", code: 0 });
    }
    let m: RegExpExecArray | null;
    if (method === "GET" && route === "/gateway/bot") {
      if (req.headers.authorization !== `Bot ${DISCORD_TOKEN}`) return reply(res, 401, { message: "401: Unauthorized", code: 0 });
      return reply(res, 200, {
        url: base.replace(/^http/, "ws") + "/gateway",
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      });
    }
    if ((m = /^\/channels\/(\d+)\/typing$/.exec(route)) && method === "POST") {
      typing.push(m[1]!);
      return reply(res, 204, undefined);
    }
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(route)) && method === "POST") {
      const { json, files: atts } = await readBody(req);
      const why = checkMentions(key, json) ?? checkContent(key, json.content, atts.length > 0);
      if (why) return fail(res, why);
      return reply(res, 200, apiMessage(post(m[1]!, json, atts)), `messages-${m[1]}`);
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route)) && method === "PATCH") {
      const { json } = await readBody(req);
      const why = checkMentions(key, json) ?? checkContent(key, json.content, false);
      if (why) return fail(res, why);
      const msg = messages.get(m[2]!);
      if (!msg || msg.channel_id !== m[1]) return reply(res, 404, { message: "Unknown Message", code: 10008 });
      msg.content = json.content as string;
      msg.history.push(msg.content);
      return reply(res, 200, apiMessage(msg), `messages-${m[1]}`);
    }
    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route)) && method === "POST") {
      const { json } = await readBody(req);
      const data = json.data as InteractionResponse["data"];
      if (interactionTokens.get(m[2]!) !== m[1]) return reply(res, 404, { message: "Unknown interaction", code: 10062 });
      if (interactionResponses.some((r) => r.id === m![1]))
        return reply(res, 400, { message: "Interaction has already been acknowledged.", code: 40060 });
      if (json.type === 4) {
        const why =
          checkMentions(key, data ?? {}) ??
          (data?.content === undefined && !data?.embeds ? `${key}: type 4 without content or embeds` : undefined);
        if (why) return fail(res, why);
      } else if (json.type !== 5) return fail(res, `${key}: callback type ${String(json.type)} is not one the adapter should use`);
      interactionResponses.push({ id: m[1]!, token: m[2]!, type: json.type, ...(data ? { data } : {}) });
      if (json.type === 4) post(`interaction-${m[1]}`, data as Record<string, unknown>, [], m[2]);
      return reply(res, 204, undefined);
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/.exec(route)) && method === "PATCH") {
      const { json } = await readBody(req);
      const why = checkMentions(key, json);
      if (why) return fail(res, why);
      const id = interactionTokens.get(m[2]!);
      if (!id || !interactionResponses.some((r) => r.token === m![2])) return reply(res, 404, { message: "Unknown Webhook", code: 10015 });
      let orig = [...messages.values()].find((x) => x.webhook === m![2] && x.channel_id === `interaction-${id}`);
      orig ??= post(`interaction-${id}`, {}, [], m[2]);
      if (typeof json.content === "string") {
        orig.content = json.content;
        orig.history.push(orig.content);
      }
      if (json.embeds) (orig as PostedMessage & { embeds?: unknown }).embeds = json.embeds;
      return reply(res, 200, apiMessage(orig));
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/?]+)$/.exec(route)) && method === "POST") {
      const { json, files: atts } = await readBody(req);
      const why = checkMentions(key, json) ?? checkContent(key, json.content, atts.length > 0);
      if (why) return fail(res, why);
      const id = interactionTokens.get(m[2]!);
      if (!id) return reply(res, 404, { message: "Unknown Webhook", code: 10015 });
      return reply(res, 200, apiMessage(post(`followup-${id}`, json, atts, m[2])));
    }
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(route)) && method === "PUT") {
      const { json } = await readBody(req);
      if (!Array.isArray(json)) return fail(res, `${key}: body is not an array of commands`);
      commands.splice(0, commands.length, ...(json as unknown[]));
      return reply(
        res,
        200,
        json.map((c) => ({ ...(c as object), id: nextId(), application_id: appId, version: "1" })),
      );
    }
    violations.push(`unexpected route: ${key}`);
    return reply(res, 404, { message: "404: Not Found", code: 0 });
  }

  const wss = new WebSocketServer({ noServer: true });
  http.on("upgrade", (req, socket, head) => {
    if (!req.url?.startsWith("/gateway")) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => gateway(ws, new URL(req.url!, "http://double")));
  });

  const guildCreate = () => ({
    id: guildId,
    name: "Double Guild",
    icon: null,
    owner_id: nextId(),
    unavailable: false,
    member_count: 2,
    large: false,
    features: [],
    roles: [
      {
        id: guildId,
        name: "@everyone",
        permissions: "1071698660928",
        position: 0,
        color: 0,
        hoist: false,
        managed: false,
        mentionable: false,
      },
    ],
    emojis: [],
    stickers: [],
    members: [],
    presences: [],
    threads: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    voice_states: [],
    channels: [
      { id: channelId, type: 0, name: "general", position: 0, permission_overwrites: [], guild_id: guildId },
      {
        id: voiceChannelId,
        type: 2,
        name: "Voice",
        position: 1,
        permission_overwrites: [],
        guild_id: guildId,
        bitrate: 64000,
        user_limit: 0,
      },
    ],
    joined_at: new Date().toISOString(),
    preferred_locale: "en-US",
    premium_tier: 0,
    system_channel_flags: 0,
    verification_level: 0,
  });

  function gateway(ws: WebSocket, url: URL): void {
    if (url.searchParams.get("v") !== "10" || url.searchParams.get("encoding") !== "json")
      violations.push(`gateway connected with ${url.search}, not ?v=10&encoding=json`);
    const s: Session = { ws, seq: 0, acked: 0 };
    const send = (p: object) => ws.send(JSON.stringify(p));
    send({ op: 10, d: { heartbeat_interval: opts.heartbeatMs ?? 500 }, s: null, t: null });
    ws.on("message", (raw) => {
      let p: { op?: number; d?: unknown };
      try {
        p = JSON.parse(Buffer.isBuffer(raw) ? raw.toString("utf8") : Buffer.from(raw as ArrayBuffer).toString("utf8")) as {
          op?: number;
          d?: unknown;
        };
      } catch {
        violations.push("gateway: the client sent a frame that is not JSON");
        return;
      }
      ops.push({ op: p.op ?? -1, d: p.d });
      if (p.op === 1) {
        if (typeof p.d === "number") s.acked = Math.max(s.acked, p.d);
        send({ op: 11, d: null, s: null, t: null });
      } else if (p.op === 2) {
        const d = p.d as { token?: string; intents?: number };
        if (d.token !== DISCORD_TOKEN) return ws.close(4004, "Authentication failed.");
        sessions.add(s);
        const disp = (t: string, data: unknown) => send({ op: 0, t, s: ++s.seq, d: data });
        disp("READY", {
          v: 10,
          user: { id: botId, username: "lyra", discriminator: "0", global_name: null, avatar: null, bot: true, flags: 0 },
          guilds: [{ id: guildId, unavailable: true }],
          session_id: `session-${nextId()}`,
          resume_gateway_url: base.replace(/^http/, "ws") + "/gateway",
          application: { id: appId, flags: 0 },
          private_channels: [],
        });
        disp("GUILD_CREATE", guildCreate());
      } else if (p.op === 6) {
        // RESUME: this double keeps no sessions; Discord answers op 9 (invalid session, not resumable).
        send({ op: 9, d: false, s: null, t: null });
      }
    });
    ws.on("close", () => sessions.delete(s));
  }

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const dispatch = (t: string, d: unknown) => {
    const id = (d as { id?: unknown } | null)?.id;
    for (const s of sessions) {
      s.ws.send(JSON.stringify({ op: 0, t, s: ++s.seq, d }));
      if (typeof id === "string") sent.set(id, [...(sent.get(id) ?? []), { s, seq: s.seq }]);
    }
  };
  // Drops every gateway connection, then the HTTP server.
  const { close, closed } = lifecycle({
    close: async () => {
      for (const s of sessions) s.ws.terminate();
      sessions.clear();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  });
  return {
    apiUrl: `${base}/api`,
    botId,
    appId,
    guildId,
    channelId,
    voiceChannelId,
    messages,
    interactionResponses,
    typing,
    commands,
    violations,
    ops,
    requests,
    dispatch,
    delivered: (id) => {
      const to = sent.get(id);
      return !!to && to.every(({ s, seq }) => s.acked >= seq);
    },
    sendRaw(frame) {
      for (const s of sessions) s.ws.send(frame);
    },
    userMessage(o) {
      const id = o.id ?? nextId();
      const userId = o.userId ?? "4242";
      const d: Record<string, unknown> = {
        id,
        type: 0,
        channel_id: o.channelId ?? channelId,
        ...(o.dm ? {} : { guild_id: guildId, member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false } }),
        author: { id: userId, username: `user${userId}`, discriminator: "0", global_name: null, avatar: null },
        content: o.mention === false ? o.content : `<@${botId}> ${o.content}`,
        mentions:
          o.mention === false ? [] : [{ id: botId, username: "lyra", discriminator: "0", bot: true, avatar: null, global_name: null }],
        attachments: o.attachments ?? [],
        ...plainMessageFields(),
      };
      dispatch("MESSAGE_CREATE", d);
      return d;
    },
    command(name, options = [], o = {}) {
      const id = nextId();
      const token = `itok-${id}`;
      interactionTokens.set(token, id);
      const userId = o.userId ?? "4242";
      const d = {
        id,
        application_id: appId,
        type: 2,
        token,
        version: 1,
        channel_id: o.channelId ?? channelId,
        guild_id: guildId,
        locale: "en-US",
        guild_locale: "en-US",
        app_permissions: "1071698660928",
        entitlements: [],
        authorizing_integration_owners: {},
        context: 0,
        member: {
          user: { id: userId, username: `user${userId}`, discriminator: "0", global_name: null, avatar: null },
          roles: [],
          permissions: "1071698660928",
          joined_at: new Date().toISOString(),
          deaf: false,
          mute: false,
        },
        data: { id: nextId(), name, type: 1, options },
      };
      dispatch("INTERACTION_CREATE", d);
      return d;
    },
    addFile(name, bytes) {
      files.set(name, bytes);
      return `${base}/cdn/${encodeURIComponent(name)}`;
    },
    rateLimitNext(match, retryAfterS) {
      const l: Limit = { match, retryAfterS };
      limits.push(l);
      return { hitAt: () => l.hitAt, retriedAt: () => l.retriedAt };
    },
    channelMessages: (ch) => [...messages.values()].filter((m) => m.channel_id === ch),
    close,
    closed,
    [Symbol.asyncDispose]: close,
  };
}
