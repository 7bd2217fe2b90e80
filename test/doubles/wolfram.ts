/**
 * A Wolfram|Alpha LLM API double (`/api/v1/llm-api`), from its documentation: plain-text answers
 * (input interpretation, result, a link to the full results page); 400 when `input` is missing,
 * 403 when the `appid` is missing or invalid, 501 when the input cannot be interpreted (with
 * suggestions when it has some). `maxchars` cuts the answer.
 */
import { startServiceDouble, text, type ServiceDouble } from "./service.ts";

export interface WolframDoubleOptions {
  /** App ids it accepts. */
  appIds: string[];
  /** Input → the result line; anything else is "not understood" (501). */
  answers: Record<string, string>;
}

export async function startWolframDouble(o: WolframDoubleOptions): Promise<ServiceDouble> {
  return startServiceDouble((url) => {
    if (url.pathname !== "/api/v1/llm-api") return text(404, "Not Found");
    const q = url.searchParams;
    const appid = q.get("appid");
    if (!appid) return text(403, "Error 2: Appid missing");
    if (!o.appIds.includes(appid)) return text(403, "Error 1: Invalid appid");
    const input = q.get("input") ?? q.get("i");
    if (!input) return text(400, "Error: No input. Please specify the input using the 'input' or 'i' query parameter.");
    const result = o.answers[input];
    if (result === undefined)
      return text(501, `Wolfram|Alpha did not understand your input "${input}". Things to try instead: ${input.split(/\s+/)[0]}`);
    const body =
      `Query:\n"${input}"\n\nInput interpretation:\n${input}\n\nResult:\n${result}\n\n` +
      `Wolfram|Alpha website result for "${input}":\nhttps://www.wolframalpha.com/input?i=${encodeURIComponent(input)}`;
    const max = Number(q.get("maxchars") ?? 6800);
    return text(200, Number.isFinite(max) && max > 0 ? body.slice(0, max) : body);
  });
}
