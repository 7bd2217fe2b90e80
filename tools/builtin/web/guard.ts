/**
 * The SSRF guard: a model's tool call must not reach the mesh's own network (cloud metadata at
 * 169.254.169.254, NATS on localhost, the LAN). Every address a host name resolves to is checked,
 * and the connection uses the checked addresses (the `lookup` hook), so a DNS name that points at
 * 127.0.0.1, or one that changes its answer between check and connect, is refused too.
 */
import { lookup as dnsLookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { WebError, WebErrorCode } from "./errors.ts";

const blocked = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128], // unspecified
  ["::1", 128],
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["2001:db8::", 32],
  ["fc00::", 7], // unique-local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // old site-local
  ["ff00::", 8], // multicast
] as const)
  blocked.addSubnet(net, bits, "ipv6");

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 IPv6 address. */
function embeddedV4(ip: string): string | undefined {
  const m = /^(?:::ffff:(?:0:)?|::|64:ff9b::)((?:\d+\.){3}\d+)$/i.exec(ip);
  if (m) return m[1];
  const hex = /^(?:::ffff:(?:0:)?|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return undefined;
  const a = parseInt(hex[1]!, 16);
  const b = parseInt(hex[2]!, 16);
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

/** Whether an IP address is private, loopback, link-local, unique-local, CGNAT, unspecified or otherwise not public. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, "ipv4");
  if (family !== 6) return true; // not an address at all: never trust it
  const v4 = embeddedV4(ip);
  if (v4 !== undefined) return blocked.check(v4, "ipv4");
  return blocked.check(ip, "ipv6");
}

export const ALLOWED_SCHEMES = ["http:", "https:"] as const;

/** Parses and checks a URL's form (scheme, host); throws a WebError the model can act on. */
export function parseWebUrl(raw: string, what = "url"): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new WebError(WebErrorCode.BadInput, `${what} '${clip(raw)}' is not an absolute URL; give one such as https://example.org/page`);
  }
  if (!(ALLOWED_SCHEMES as readonly string[]).includes(u.protocol)) {
    throw new WebError(WebErrorCode.BadInput, `${what} '${clip(raw)}' uses the scheme '${u.protocol}'; only http: and https: are allowed`);
  }
  if (u.username || u.password)
    throw new WebError(WebErrorCode.BadInput, `${what} '${clip(raw)}' carries credentials; give the URL without user:password@`);
  if (!u.hostname) throw new WebError(WebErrorCode.BadInput, `${what} '${clip(raw)}' has no host name`);
  return u;
}

const hostOf = (u: URL) => u.hostname.replace(/^\[|\]$/g, "");

function refused(host: string, ip: string): WebError {
  const shown = host === ip ? `'${host}'` : `'${host}' (${ip})`;
  return new WebError(
    WebErrorCode.Refused,
    `refused: ${shown} is a private, loopback or link-local address; ` +
      `only public addresses may be fetched (the server's options.allow_private allows them)`,
  );
}

/** Which addresses are refused: `true` allows private ones, `false` refuses them; a function decides itself (tests). */
export type AddressPolicy = boolean | ((ip: string) => boolean);
const refuses = (p: AddressPolicy): ((ip: string) => boolean) => (typeof p === "function" ? p : p ? () => false : isPrivateAddress);

/** Resolves the URL's host and throws unless every address is public (or private ones are allowed). */
export async function checkUrlAddress(u: URL, allowPrivate: AddressPolicy): Promise<void> {
  if (allowPrivate === true) return;
  const refused_ = refuses(allowPrivate);
  const host = hostOf(u);
  if (isIP(host)) {
    if (refused_(host)) throw refused(host, host);
    return;
  }
  const addrs = await resolveAll(host);
  const bad = addrs.find((a) => refused_(a.address));
  if (bad) throw refused(host, bad.address);
}

function resolveAll(host: string): Promise<{ address: string; family: number }[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => {
      if (err)
        reject(
          new WebError(WebErrorCode.Upstream, `cannot resolve host '${host}' (${err.code ?? err.message}); check the URL`, { cause: err }),
        );
      else resolve(addrs);
    }),
  );
}

/** A `lookup` for http.request that refuses private answers: the socket connects only to checked addresses. */
export function guardedLookup(allowPrivate: AddressPolicy): LookupFunction {
  const refused_ = refuses(allowPrivate);
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addrs) => {
      if (err) return (callback as (e: Error | null, a: string, f?: number) => void)(err, "", 4);
      const list = addrs as { address: string; family: number }[];
      const bad = list.find((a) => refused_(a.address));
      if (bad) return (callback as (e: Error | null, a: string, f?: number) => void)(refused(hostname, bad.address), "", 4);
      if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      const first = list[0]!;
      (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
    });
  };
}

export function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
