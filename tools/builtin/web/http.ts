/**
 * A capped HTTP GET for fetch_page: redirects followed by hand (each hop's URL checked again by
 * the SSRF guard), a byte cap on the body and one time cap over the whole chain.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { WebError, WebErrorCode } from "./errors.ts";
import { checkUrlAddress, clip, guardedLookup, parseWebUrl, type AddressPolicy } from "./guard.ts";

export interface GetOptions {
  /** options.allow_private; tests pass a function to refuse chosen loopback addresses. */
  allowPrivate: AddressPolicy;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  signal?: AbortSignal;
}

export interface GetResult {
  url: string;
  status: number;
  contentType: string;
  body: Buffer;
}

const USER_AGENT = "lyra-mesh-web/0.1 (+fetch_page)";

export async function cappedGet(raw: string, o: GetOptions): Promise<GetResult> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  let url = parseWebUrl(raw);
  try {
    for (let hop = 0; ; hop++) {
      await checkUrlAddress(url, o.allowPrivate);
      const res = await get(url, o.allowPrivate, signal);
      const location = res.headers.location;
      if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume();
        if (hop >= o.maxRedirects)
          throw new WebError(WebErrorCode.Upstream, `too many redirects (more than ${o.maxRedirects}) from '${clip(raw)}'`);
        url = parseWebUrl(new URL(location, url).href, "redirect target");
        continue;
      }
      const body = await readCapped(res, o.maxBytes, url.href);
      return { url: url.href, status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body };
    }
  } catch (err) {
    if (timeout.aborted)
      throw new WebError(WebErrorCode.Timeout, `'${clip(url.href)}' did not answer within ${o.timeoutMs} ms; try another page`, {
        cause: err,
      });
    if (o.signal?.aborted) throw new WebError(WebErrorCode.Timeout, "the call was cancelled", { cause: err });
    if (err instanceof WebError) throw err;
    // The guarded lookup's refusal arrives wrapped in the socket error.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof WebError) throw cause;
    throw new WebError(WebErrorCode.Upstream, `cannot fetch '${clip(url.href)}': ${(err as Error).message}`, { cause: err });
  }
}

function get(url: URL, allowPrivate: AddressPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "GET",
        signal,
        lookup: guardedLookup(allowPrivate),
        headers: { "user-agent": USER_AGENT, accept: "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5" },
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
}

async function readCapped(res: IncomingMessage, maxBytes: number, url: string): Promise<Buffer> {
  const tooLarge = () =>
    new WebError(
      WebErrorCode.TooLarge,
      `'${clip(url)}' is larger than ${maxBytes} bytes (the server's options.max_bytes); try a smaller page`,
    );
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    size += (c as Buffer).length;
    if (size > maxBytes) {
      res.destroy();
      throw tooLarge();
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
