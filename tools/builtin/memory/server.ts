/**
 * The memory server's tools. The user and conversation come from the request's `_meta`
 * (`lyra/user`, `lyra/conversation`, put there by the agent's tool plane from the role request),
 * never from the model's arguments: one user's memories never surface for another.
 */
import { McpServer, type CallToolResult } from "@modelcontextprotocol/server";
import { z } from "zod";
import { MetaKey } from "../../wire.ts";
import type { Embedder } from "../../embed.ts";
import type { MemoryEntry, MemoryStore, SearchHit } from "./store.ts";

/** Longest journal entry, characters. */
export const MAX_ENTRY_CHARS = 8_000;
/** Longest query, characters. */
export const MAX_QUERY_CHARS = 2_000;
export const MAX_RESULTS = 50;

const Scope = z
  .enum(["user", "conversation"])
  .describe("'user' (default): everything this user told you in any conversation; 'conversation': only this conversation");
const Limit = z.number().int().min(1).max(MAX_RESULTS);
const Query = z.string().trim().min(1, "the query is empty; say what to look for").max(MAX_QUERY_CHARS);
const Id = z.number().int().positive().describe("a memory id, as search and recall results show it");

// Built once (a zod schema costs more to build than a call).
const SearchInput = z.object({
  query: Query.describe("what to look for, in plain words; matches by meaning and by exact words"),
  limit: Limit.optional().describe(`how many memories, 1-${MAX_RESULTS} (default 5)`),
  scope: Scope.optional(),
});
const RecallInput = z.object({
  query: Query.optional().describe("what the memories should be about; leave out for the most significant recent ones"),
  ids: z.array(Id).min(1).max(MAX_RESULTS).optional().describe("fetch exactly these memories"),
  limit: Limit.optional().describe(`how many memories, 1-${MAX_RESULTS} (default 5)`),
  scope: Scope.optional(),
});
const JournalInput = z.object({
  text: z
    .string()
    .trim()
    .min(1, "the entry is empty; write what to remember")
    .max(MAX_ENTRY_CHARS)
    .describe("what to remember, as a short self-contained sentence or paragraph"),
  significance: z.number().min(0).max(1).optional().describe("how important it is to remember, 0 (trivia) to 1 (essential); default 0.5"),
  tags: z.array(z.string().min(1).max(64)).max(16).optional().describe("a few keywords"),
});
const ForgetInput = z.object({ id: Id });

export interface MemoryDeps {
  store: MemoryStore;
  embedder: Embedder;
}

type Scoped = { user: string; conversation?: string };

const fail = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });
const ok = (text: string): CallToolResult => ({ content: [{ type: "text", text }] });

/** The caller's user and conversation from `_meta`; a reason when the user is missing. */
function scopeOf(meta: Record<string, unknown> | undefined): Scoped | string {
  const user = meta?.[MetaKey.User];
  const conversation = meta?.[MetaKey.Conversation];
  if (typeof user !== "string" || !user || user.length > 256) {
    return (
      `memory needs to know whose memories these are: ` +
      `the request's _meta has no '${MetaKey.User}' (the agent host sets it from the conversation; a direct caller must set it)`
    );
  }
  return { user, conversation: typeof conversation === "string" && conversation ? conversation : undefined };
}

const NO_CONVERSATION = `scope 'conversation' needs the request's _meta '${MetaKey.Conversation}', which is missing; use scope 'user'`;

/** The caller's scope and the conversation a search is narrowed to (undefined: the whole user), or why not. */
function searchScope(
  meta: Record<string, unknown> | undefined,
  scope: "user" | "conversation" | undefined,
): { s: Scoped; conv: string | undefined } | string {
  const s = scopeOf(meta);
  if (typeof s === "string") return s;
  if (scope !== "conversation") return { s, conv: undefined };
  return s.conversation === undefined ? NO_CONVERSATION : { s, conv: s.conversation };
}

export function formatEntry(e: MemoryEntry | SearchHit): string {
  const when = new Date(e.ts).toISOString().slice(0, 16).replace("T", " ");
  const tags = e.tags.length ? ` [${e.tags.join(", ")}]` : "";
  return `#${e.id} (${when} UTC, significance ${e.significance}, conversation ${e.conversation})${tags}: ${e.text}`;
}

export async function hybridSearch(
  d: MemoryDeps,
  s: Scoped,
  query: string,
  limit: number,
  conversation: string | undefined,
): Promise<{ hits: SearchHit[]; note?: string }> {
  const e = await d.embedder.embed(query);
  const vector = "vector" in e ? e.vector : undefined;
  const hits = d.store.search({ user: s.user, conversation, text: query, vector, limit });
  return { hits, note: "reason" in e ? `lexical only: ${e.reason}` : undefined };
}

function listing(hits: (MemoryEntry | SearchHit)[], note: string | undefined, none: string): string {
  const lines = hits.length ? hits.map(formatEntry) : [none];
  return (note ? [`(${note})`, ...lines] : lines).join("\n");
}

export function memoryServer(d: MemoryDeps): McpServer {
  const server = new McpServer({ name: "lyra-memory", version: "0.1.0" });
  server.registerTool(
    "semantic_search",
    {
      description:
        "Searches your long-term memory of this user (journal entries from earlier conversations) by meaning and by exact words. " +
        "Returns the best matches, most relevant first, with their ids.",
      inputSchema: SearchInput,
    },
    async ({ query, limit, scope }, ctx) => {
      const scoped = searchScope(ctx.mcpReq._meta, scope);
      if (typeof scoped === "string") return fail(scoped);
      const { s, conv } = scoped;
      const { hits, note } = await hybridSearch(d, s, query, limit ?? 5, conv);
      return ok(listing(hits, note, `no memory matches '${query.slice(0, 80)}'`));
    },
  );
  server.registerTool(
    "recall",
    {
      description: "Recalls memories of this user: by ids, about a topic (query), or, with neither, the most significant recent ones.",
      inputSchema: RecallInput,
    },
    async ({ query, ids, limit, scope }, ctx) => {
      const scoped = searchScope(ctx.mcpReq._meta, scope);
      if (typeof scoped === "string") return fail(scoped);
      const { s, conv } = scoped;
      if (ids && query) return fail("give either ids or a query, not both");
      if (ids) {
        const found = d.store.get(s.user, ids).filter((e) => conv === undefined || e.conversation === conv);
        const missing = ids.filter((id) => !found.some((e) => e.id === id));
        if (!found.length) return fail(`no memory has id ${ids.join(", ")}; use ids from semantic_search or recall results`);
        return ok(listing(found, missing.length ? `not found: ${missing.join(", ")}` : undefined, ""));
      }
      if (query) {
        const { hits, note } = await hybridSearch(d, s, query, limit ?? 5, conv);
        return ok(listing(hits, note, "nothing remembered about that"));
      }
      return ok(listing(d.store.latest(s.user, limit ?? 5, conv), undefined, "nothing remembered yet"));
    },
  );
  server.registerTool(
    "commit_journal",
    {
      description:
        "Writes an entry in your long-term journal about this user, to recall in later conversations: " +
        "a fact, preference or event worth keeping, with how significant it is.",
      inputSchema: JournalInput,
    },
    async ({ text, significance, tags }, ctx) => {
      const s = scopeOf(ctx.mcpReq._meta);
      if (typeof s === "string") return fail(s);
      const e = await d.embedder.embed(text);
      const entry = d.store.add({
        user: s.user,
        conversation: s.conversation ?? "none",
        text,
        significance: significance ?? 0.5,
        tags,
        vector: "vector" in e ? e.vector : undefined,
      });
      return ok(`remembered as #${entry.id}${"reason" in e ? ` (stored without a vector, lexical only: ${e.reason})` : ""}`);
    },
  );
  server.registerTool(
    "forget",
    {
      description: "Deletes one memory of this user for good, by its id (from semantic_search or recall).",
      inputSchema: ForgetInput,
    },
    async ({ id }, ctx) => {
      const s = scopeOf(ctx.mcpReq._meta);
      if (typeof s === "string") return fail(s);
      return d.store.forget(s.user, id)
        ? ok(`forgot #${id}`)
        : fail(`no memory has id ${id}; use an id from semantic_search or recall results`);
    },
  );
  return server;
}
