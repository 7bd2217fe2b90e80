/** The web server's SSRF guard: which addresses count as private, and URL form checks. */
import { describe, expect, it } from "vitest";
import { isPrivateAddress } from "../../../tools/builtin/web/index.ts";
import { checkUrlAddress, parseWebUrl } from "../../../tools/builtin/web/guard.ts";

describe("isPrivateAddress", () => {
  const priv = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "febf::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "64:ff9b::10.0.0.1",
    "not-an-ip",
  ];
  const pub = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",
    "100.128.0.1",
    "169.255.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "2001:4860::1",
  ];
  for (const ip of priv) it(`refuses ${ip}`, () => expect(isPrivateAddress(ip)).toBe(true));
  for (const ip of pub) it(`allows ${ip}`, () => expect(isPrivateAddress(ip)).toBe(false));
});

describe("URL checks", () => {
  it("only http and https, no credentials", () => {
    expect(parseWebUrl("https://example.org/a").href).toBe("https://example.org/a");
    for (const u of ["file:///etc/passwd", "ftp://x.org/", "javascript:alert(1)", "data:,x", "ws://x.org/", "chrome://settings"])
      expect(() => parseWebUrl(u), u).toThrow(/only http: and https: are allowed/);
    expect(() => parseWebUrl("http://a:b@x.org/")).toThrow(/carries credentials/);
    expect(() => parseWebUrl("nope")).toThrow(/not an absolute URL/);
  });

  it("a host name that resolves to loopback is refused; allow_private lets it through", async () => {
    await expect(checkUrlAddress(new URL("http://localhost/"), false)).rejects.toThrow(/refused: 'localhost' \((127\.0\.0\.1|::1)\)/);
    await expect(checkUrlAddress(new URL("http://[::1]/"), false)).rejects.toThrow(/refused: '::1'/);
    await expect(checkUrlAddress(new URL("http://localhost/"), true)).resolves.toBeUndefined();
    await expect(checkUrlAddress(new URL("http://8.8.8.8/"), false)).resolves.toBeUndefined();
  });
});
