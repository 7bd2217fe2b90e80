/**
 * The one HTTP GET the knowledge clients share: their limiter, a timeout, the User-Agent, a body
 * size cap. Connection failures and timeouts become KnowledgeErrors; every status comes back so
 * each client reads its service's own codes first (Wolfram's 501 means "not understood"), then
 * hands the rest to `statusError`.
 */
import { KnowledgeError, KnowledgeErrorCode } from "./errors.ts";
import type { Limiter } from "./limiter.ts";

/** A body larger than this is cut off and reported malformed: no documented answer is this big. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HttpContext {
  /** "Wikipedia", "arXiv", "Wolfram|Alpha": names the service in messages. */
  service: string;
  limiter: Limiter;
  timeoutMs: number;
  userAgent: string;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

export async function httpGet(ctx: HttpContext, url: URL, signal?: AbortSignal): Promise<HttpAnswer> {
  return ctx.limiter.run(async () => {
    const timeout = AbortSignal.timeout(ctx.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const res = await fetch(url, {
        headers: { "user-agent": ctx.userAgent, "accept-encoding": "gzip" },
        signal: both,
        redirect: "follow",
      });
      const text = await readCapped(res, ctx.service);
      const answer = { status: res.status, headers: res.headers, text };
      const wait = retryAfterS(answer);
      if (wait !== undefined && (res.status === 429 || res.status === 503)) ctx.limiter.holdOff(wait * 1000);
      return answer;
    } catch (err) {
      if (err instanceof KnowledgeError) throw err;
      if (timeout.aborted)
        throw new KnowledgeError(
          KnowledgeErrorCode.Timeout,
          `${ctx.service} did not answer within ${ctx.timeoutMs} ms; try again later or a simpler query`,
          { cause: err },
        );
      if (signal?.aborted) throw err;
      throw new KnowledgeError(
        KnowledgeErrorCode.Network,
        `${ctx.service} could not be reached (${describe(err)}); the tool host may lack network access`,
        { cause: err },
      );
    }
  }, signal);
}

async function readCapped(res: Response, service: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      throw new KnowledgeError(KnowledgeErrorCode.Malformed, `${service} sent more than ${MAX_BODY_BYTES} bytes; ask for fewer results`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Retry-After in seconds (delta-seconds or an HTTP date), if present and sane. */
export function retryAfterS(a: HttpAnswer): number | undefined {
  const v = a.headers.get("retry-after");
  if (!v) return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v) : (Date.parse(v) - Date.now()) / 1000;
  return Number.isFinite(n) ? Math.max(0, Math.min(3600, Math.ceil(n))) : undefined;
}

/** The error for a status the client did not handle itself; undefined for 2xx. */
export function statusError(service: string, a: HttpAnswer): KnowledgeError | undefined {
  if (a.status >= 200 && a.status < 300) return undefined;
  const wait = retryAfterS(a);
  const after = wait !== undefined ? `retry after ${wait} s` : "try again later";
  const detail = snippet(a.text);
  if (a.status === 429)
    return new KnowledgeError(KnowledgeErrorCode.RateLimited, `${service} is rate limiting requests (429); ${after}`, {
      retryAfterS: wait,
    });
  if (a.status === 503)
    return new KnowledgeError(KnowledgeErrorCode.Unavailable, `${service} is unavailable (503${detail ? `: ${detail}` : ""}); ${after}`, {
      retryAfterS: wait,
    });
  if (a.status >= 500)
    return new KnowledgeError(
      KnowledgeErrorCode.Unavailable,
      `${service} failed (${a.status}${detail ? `: ${detail}` : ""}); try again later`,
    );
  return new KnowledgeError(
    KnowledgeErrorCode.Rejected,
    `${service} refused the request (${a.status}${detail ? `: ${detail}` : ""}); check the arguments`,
  );
}

/** The first 200 characters of a body, on one line, for messages. */
export function snippet(text: string): string {
  const s = text.replace(/\s+/g, " ").trim();
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
