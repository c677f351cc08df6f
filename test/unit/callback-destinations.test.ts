// The callback policy on its own: which URLs it refuses from what they say, and which resolved
// addresses its lookup refuses or hands on (a resolver of the test's, no DNS, no connection).

import type { LookupAddress, LookupOptions } from "node:dns";
import { describe, expect, it } from "vitest";
import { CallbackDestinations, CallbackRefused, type Resolver } from "../../gateway/async/callback-destinations.js";

const refusal = (url: string, allow: string[] = [], ownHost = "127.0.0.1") => new CallbackDestinations(allow, ownHost).refusal(new URL(url));

/** What the lookup answers for `hostname`, given that the resolver finds `addresses`. */
function lookup(hostname: string, addresses: string[], allow: string[] = [], options: LookupOptions = { all: true }): Promise<LookupAddress[] | string> {
  const resolve: Resolver = async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  const destinations = new CallbackDestinations(allow, "127.0.0.1", resolve);
  return new Promise((done, fail) => destinations.lookup(hostname, options, (error, found) => (error ? fail(error) : done(found))));
}

describe("callback destinations", () => {
  it("refuses literal addresses in loopback, link-local, private, shared, unspecified and multicast ranges, in every spelling", () => {
    const refused: Array<[string, string]> = [
      ["http://127.0.0.1:8080/", "loopback"],
      ["http://127.9.9.9/", "loopback"],
      ["http://2130706433/", "loopback"], // 127.0.0.1 as one number
      ["http://0x7f.1/", "loopback"],
      ["http://[::1]/", "loopback"],
      ["http://[::ffff:127.0.0.1]/", "loopback"],
      ["http://[::127.0.0.1]/", "loopback"], // IPv4-compatible
      ["http://[64:ff9b::7f00:1]/", "loopback"], // NAT64
      ["http://169.254.169.254/latest/meta-data/", "link-local"],
      ["http://[fe80::1]/", "link-local"],
      ["http://10.0.0.1/", "private"],
      ["http://172.31.255.1/", "private"],
      ["http://192.168.1.1/", "private"],
      ["http://100.64.0.1/", "private"],
      ["http://[fd00::1]/", "private"],
      ["http://[::ffff:10.1.2.3]/", "private"],
      ["http://0.0.0.0/", "unspecified"],
      ["http://[::]/", "unspecified"],
      ["http://224.0.0.1/", "multicast"],
      ["http://[ff02::1]/", "multicast"],
      ["http://255.255.255.255/", "broadcast"],
    ];
    for (const [url, category] of refused) expect(refusal(url), url).toContain(`(${category} address)`);
  });

  it("refuses localhost names and Hearth's own address, and lets public hosts through to their lookup", () => {
    expect(refusal("http://localhost:8080/")).toBe("localhost (a name of this host)");
    expect(refusal("http://LOCALHOST./x")).toBe("localhost (a name of this host)");
    expect(refusal("http://api.localhost/")).toBe("api.localhost (a name of this host)");
    expect(refusal("http://ip6-localhost/")).toBe("ip6-localhost (a name of this host)");
    expect(refusal("http://203.0.113.9:8080/", [], "203.0.113.9")).toContain("(Hearth's own address)");
    expect(refusal("http://203.0.113.9/")).toBeUndefined();
    expect(refusal("https://hooks.example.com/x")).toBeUndefined();
    expect(refusal("http://[2001:db8::1]/")).toBeUndefined();
  });

  it("lets explicit entries win: host names, *.domain patterns, addresses and CIDRs", () => {
    expect(refusal("http://127.0.0.1:9000/", ["127.0.0.1/32"])).toBeUndefined();
    expect(refusal("http://[::ffff:127.0.0.1]/", ["127.0.0.1"])).toBeUndefined();
    expect(refusal("http://127.0.0.2/", ["127.0.0.1/32"])).toContain("loopback");
    expect(refusal("http://10.1.2.3/", ["10.1.0.0/16"])).toBeUndefined();
    expect(refusal("http://[::1]/", ["::1"])).toBeUndefined();
    expect(refusal("http://localhost/", ["localhost"])).toBeUndefined();
    expect(() => new CallbackDestinations(["10.0.0.0/33"], "127.0.0.1")).toThrow(/10.0.0.0\/33 has an invalid prefix length/);
    expect(() => new CallbackDestinations(["not a host"], "127.0.0.1")).toThrow(/neither a host name/);
    expect(() => new CallbackDestinations(["10.0.0.0/8/1"], "127.0.0.1")).toThrow(/neither a host name/);
  });

  it("refuses a name when any address it resolves to is refused, and hands on only checked addresses", async () => {
    await expect(lookup("hooks.test", ["127.0.0.1"])).rejects.toThrow(CallbackRefused);
    await expect(lookup("hooks.test", ["203.0.113.7", "169.254.169.254"])).rejects.toThrow("hooks.test resolves to 169.254.169.254 (link-local address)");
    await expect(lookup("hooks.test", ["::ffff:192.168.0.1"])).rejects.toThrow("(private address)");
    expect(await lookup("hooks.test", ["203.0.113.7", "2001:db8::7"])).toEqual([
      { address: "203.0.113.7", family: 4 },
      { address: "2001:db8::7", family: 6 },
    ]);
    expect(await lookup("hooks.test", ["203.0.113.7", "2001:db8::7"], [], { family: 6 })).toBe("2001:db8::7");
    // Allowed by name or by range: the addresses go through as found.
    expect(await lookup("hooks.test", ["127.0.0.1"], ["hooks.test"])).toEqual([{ address: "127.0.0.1", family: 4 }]);
    expect(await lookup("a.b.hooks.test.", ["10.0.0.1"], ["*.hooks.test"])).toEqual([{ address: "10.0.0.1", family: 4 }]);
    await expect(lookup("hooks.test", ["10.0.0.1"], ["*.hooks.test"])).rejects.toThrow(CallbackRefused);
    expect(await lookup("hooks.test", ["127.0.0.1"], ["127.0.0.0/8"])).toEqual([{ address: "127.0.0.1", family: 4 }]);
  });
});
