/**
 * `lyra serve`'s label and outcomes for the front-door metrics (agents/frontdoors/metrics.ts).
 * outcome: ok, bad_request, unauthorized, not_found, too_large, rate_limited, unavailable, error, cancelled.
 */
export const DOOR = "openai";

/** The outcome label for an HTTP status. */
export function outcomeOf(status: number): string {
  const m: Record<number, string> = {
    200: "ok",
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "bad_request",
    413: "too_large",
    415: "bad_request",
    429: "rate_limited",
    499: "cancelled",
    503: "unavailable",
  };
  return m[status] ?? "error";
}
