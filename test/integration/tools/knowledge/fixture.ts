/** The knowledge tests' fixture: a JetStream nats-server, the three API doubles, tool hosts on them. */
import { connectMesh, type Mesh } from "../../../../mesh/connect.ts";
import { silentLogger } from "../../../../mesh/logger.ts";
import { createMcpClient, type McpClient } from "../../../../tools/client.ts";
import { startToolHost, type ToolHost, type ToolHostOptions } from "../../../../tools/host.ts";
import { startArxivDouble, type ArxivDouble } from "../../../doubles/arxiv.ts";
import { startMediaWikiDouble, type MediaWikiDouble } from "../../../doubles/mediawiki.ts";
import type { ServiceDouble } from "../../../doubles/service.ts";
import { startWolframDouble } from "../../../doubles/wolfram.ts";
import { startNatsServer, type NatsServer } from "../../../harness/nats-server.ts";
import { mcpRequest } from "../helpers.ts";

export const APP_ID = "DEMO-APPID";

export interface Fixture {
  nats: NatsServer;
  mesh: Mesh;
  wiki: MediaWikiDouble;
  arxiv: ArxivDouble;
  wolfram: ServiceDouble;
  /** A knowledge host on tenant `tenant` (one per test, or a replica of another); options merge over the doubles' URLs. */
  host(tenant: string, options?: Record<string, unknown>, env?: Record<string, string>, cache?: ToolHostOptions["cache"]): Promise<Caller>;
  close(): Promise<void>;
}

export interface CallResult {
  /** A JSON-RPC error (e.g. invalid params) rather than a result. */
  rpcError?: { code: number; message: string };
  isError: boolean;
  text: string;
}

export interface Caller {
  host: ToolHost;
  call(name: string, args: unknown): Promise<CallResult>;
}

export async function knowledgeFixture(): Promise<Fixture> {
  const nats = await startNatsServer();
  const mesh = await connectMesh({ servers: nats.url });
  const wiki = await startMediaWikiDouble([
    {
      title: "Ada Lovelace",
      intro:
        "Augusta Ada King, Countess of Lovelace, was an English mathematician & writer, " +
        "chiefly known for her work on Charles Babbage's Analytical Engine.",
      body:
        "== Early life ==\nBorn in London in 1815, " +
        "the only legitimate child of the poet Lord Byron and the mathematician Anne Isabella Milbanke.",
      redirects: ["Lady Lovelace"],
    },
    {
      title: "Analytical Engine",
      intro: "The Analytical Engine was a proposed mechanical general-purpose computer designed by Charles Babbage.",
    },
    { title: "Charles Babbage", intro: "Charles Babbage was an English polymath, mathematician and mechanical engineer." },
  ]);
  const arxiv = await startArxivDouble([
    {
      id: "1706.03762v7",
      title: "Attention Is All You Need",
      summary: "The dominant sequence transduction models are based on complex recurrent or convolutional neural networks.",
      authors: ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit", "Llion Jones"],
      published: "2017-06-12T17:57:34Z",
      category: "cs.CL",
    },
    {
      id: "1810.04805v2",
      title: "BERT: Pre-training of Deep Bidirectional Transformers",
      summary: "We introduce a new language representation model called BERT & its attention layers.",
      authors: ["Jacob Devlin"],
      published: "2018-10-11T00:50:01Z",
      category: "cs.CL",
    },
    {
      id: "2001.08361v1",
      title: "Scaling Laws for Neural Language Models",
      summary: "We study empirical scaling laws for language model performance.",
      authors: ["Jared Kaplan"],
      published: "2020-01-23T00:00:00Z",
      category: "cs.LG",
    },
  ]);
  const wolfram = await startWolframDouble({
    appIds: [APP_ID],
    answers: {
      "integrate x^2": "x^3/3 + constant",
      "10 mph in km/h": "16.09 km/h (kilometers per hour)",
      "population of France": "about 68.2 million people (2025 estimate)",
    },
  });
  const hosts: ToolHost[] = [];
  const clients: McpClient[] = [];
  return {
    nats,
    mesh,
    wiki,
    arxiv,
    wolfram,
    async host(tenant, options = {}, env = { WOLFRAM_APP_ID: APP_ID }, cache) {
      const host = await startToolHost(mesh, {
        tenant,
        host: `h-${tenant}-${hosts.length}`,
        cache,
        log: silentLogger,
        env,
        servers: {
          knowledge: {
            builtin: "knowledge",
            options: {
              wikipedia_url: `${wiki.url}/w/api.php`,
              arxiv_url: `${arxiv.url}/api/query`,
              wolfram_url: `${wolfram.url}/api/v1/llm-api`,
              arxiv_interval_ms: 300,
              wikipedia_interval_ms: 0,
              timeout_ms: 1_000,
              ...options,
            },
          },
        },
      });
      hosts.push(host);
      const mcp = createMcpClient(mesh, { tenant });
      clients.push(mcp);
      return {
        host,
        async call(name, args) {
          const r = await mcp.request("knowledge", mcpRequest("tools/call", { name, arguments: args }), { timeoutMs: 20_000 });
          if ("error" in r) return { rpcError: r.error, isError: true, text: r.error.message };
          const content = (r.result.content ?? []) as { type: string; text?: string }[];
          return { isError: r.result.isError === true, text: content.map((c) => c.text ?? "").join("\n") };
        },
      };
    },
    async close() {
      for (const c of clients) await c.close();
      await Promise.all(hosts.map((h) => h.close()));
      await Promise.all([wiki.close(), arxiv.close(), wolfram.close()]);
      await mesh.close();
      await nats.close();
    },
  };
}
