/**
 * Wolfram|Alpha's LLM API (`/api/v1/llm-api?input=…&appid=…&maxchars=…`): plain text written for a
 * model. Its documented statuses: 200 the answer, 501 the input could not be interpreted (the body
 * may suggest alternatives), 403 the app id is missing or invalid, 400 the input parameter is
 * missing. The app id is never put in a message or a cache key.
 */
import { KnowledgeError, KnowledgeErrorCode } from "./errors.ts";
import { httpGet, snippet, statusError, type HttpContext } from "./http.ts";

const SERVICE = "Wolfram|Alpha";

export async function wolframQuery(
  http: HttpContext,
  apiUrl: string,
  appId: string,
  input: string,
  maxChars: number,
  signal?: AbortSignal,
): Promise<string> {
  const url = new URL(apiUrl);
  url.searchParams.set("input", input);
  url.searchParams.set("appid", appId);
  url.searchParams.set("maxchars", String(maxChars));
  const a = await httpGet(http, url, signal);
  if (a.status === 501) {
    const hint = snippet(a.text);
    throw new KnowledgeError(
      KnowledgeErrorCode.NoResults,
      `Wolfram|Alpha could not interpret '${input}'${hint ? ` (${hint})` : ""}; ` +
        `rephrase it as a short math or factual query, e.g. 'population of France' or 'integrate x^2'`,
    );
  }
  if (a.status === 403) {
    throw new KnowledgeError(
      KnowledgeErrorCode.Config,
      `Wolfram|Alpha refused the app id (403${a.text ? `: ${snippet(a.text)}` : ""}); ` +
        `the tool host's operator must set a valid LLM API app id`,
    );
  }
  const bad = statusError(SERVICE, a);
  if (bad) throw bad;
  const text = a.text.trim();
  if (!text) throw new KnowledgeError(KnowledgeErrorCode.Malformed, "Wolfram|Alpha's answer was empty; try again later");
  return text;
}
