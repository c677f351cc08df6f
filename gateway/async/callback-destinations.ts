// Where callbacks may go. A callback URL is the caller's choice, and Hearth POSTs to it from inside
// the operator's network: by default it may not reach what only this host or that network can
// (loopback, link-local such as cloud metadata, private and shared ranges, Hearth's own addresses).
// HEARTH_CALLBACK_ALLOW lists host patterns and CIDRs that may, whatever their range.

import dns from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import os from "node:os";

type Family = "ipv4" | "ipv6";

/**
 * IPv4 ranges refused by default; each is refused in the IPv6 forms that embed an IPv4 address too.
 * Loopback first: the first range that holds an address names it (::1 is also "::0.0.0.1").
 */
const REFUSED_IPV4: Array<[category: string, address: string, prefix: number]> = [
  ["loopback", "127.0.0.0", 8],
  ["link-local", "169.254.0.0", 16],
  ["private", "10.0.0.0", 8],
  ["private", "172.16.0.0", 12],
  ["private", "192.168.0.0", 16],
  ["private", "100.64.0.0", 10],
  ["unspecified", "0.0.0.0", 8],
  ["multicast", "224.0.0.0", 4],
  ["broadcast", "240.0.0.0", 4],
];

const REFUSED_IPV6: Array<[category: string, address: string, prefix: number]> = [
  ["loopback", "::1", 128],
  ["unspecified", "::", 128],
  ["link-local", "fe80::", 10],
  ["private", "fc00::", 7],
  ["multicast", "ff00::", 8],
];

/** IPv6 prefixes whose last 32 bits are an IPv4 address: mapped, compatible (deprecated), NAT64. */
const IPV4_IN_IPV6 = ["::ffff:", "::", "64:ff9b::"];

/** Names that mean this host whatever DNS says (RFC 6761 and common /etc/hosts entries). */
const LOCAL_NAME = /^(localhost|.+\.localhost|localhost\.localdomain|ip6-localhost|ip6-loopback)$/;

const HOST_PATTERN = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address a host name resolves to. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** A callback whose host this policy does not let Hearth reach. */
export class CallbackRefused extends Error {}

export class CallbackDestinations {
  private readonly refused: Array<[category: string, ranges: BlockList]>;
  private readonly allowedAddresses = new BlockList();
  private readonly allowedNames: string[] = [];
  private readonly allowedDomains: string[] = [];

  /**
   * `allow`: host names, `*.domain` patterns, IP addresses and CIDRs (HEARTH_CALLBACK_ALLOW);
   * `ownHost`: the address Hearth listens on (all of this host's addresses when it is unspecified).
   */
  constructor(allow: string[], ownHost: string, private readonly resolve: Resolver = systemResolver) {
    const categories = new Map<string, BlockList>();
    const rangesOf = (category: string): BlockList => categories.get(category) ?? categories.set(category, new BlockList()).get(category)!;
    for (const [category, address, prefix] of REFUSED_IPV4) {
      rangesOf(category).addSubnet(address, prefix, "ipv4");
      for (const prefix6 of IPV4_IN_IPV6) rangesOf(category).addSubnet(prefix6 + address, 96 + prefix, "ipv6");
    }
    for (const [category, address, prefix] of REFUSED_IPV6) rangesOf(category).addSubnet(address, prefix, "ipv6");
    const own = rangesOf("Hearth's own");
    for (const address of ownAddresses(ownHost)) own.addAddress(address, familyOf(address));
    this.refused = [...categories];
    for (const entry of allow) this.addAllowed(entry);
  }

  /**
   * Why a callback URL is refused from what it says alone (a literal address in a refused range, a
   * local name), or undefined. Names are checked again, address by address, when they are resolved.
   */
  refusal(url: URL): string | undefined {
    const host = hostOf(url);
    if (isIP(host)) return this.addressRefusal(host);
    if (this.nameAllowed(host)) return undefined;
    if (LOCAL_NAME.test(host)) return `${host} (a name of this host)`;
    return undefined;
  }

  /**
   * A `lookup` for http.request: resolves the name, refuses it (CallbackRefused) unless every address
   * may be reached, and hands the connection only those checked addresses, so nothing resolves twice.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.checkedAddresses(hostname.toLowerCase().replace(/\.$/, "")).then(
      (found) => {
        const addresses = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
        if (options.all) return callback(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };

  private async checkedAddresses(hostname: string): Promise<ResolvedAddress[]> {
    const addresses = await this.resolve(hostname);
    if (this.nameAllowed(hostname)) return addresses;
    for (const { address } of addresses) {
      const refused = this.addressRefusal(address);
      if (refused) throw new CallbackRefused(`${hostname} resolves to ${refused}`);
    }
    return addresses;
  }

  private addressRefusal(address: string): string | undefined {
    const family = familyOf(address);
    if (this.allowedAddresses.check(address, family)) return undefined;
    const category = this.refused.find(([, ranges]) => ranges.check(address, family))?.[0];
    return category && `${address} (${category} address)`;
  }

  private nameAllowed(host: string): boolean {
    return this.allowedNames.includes(host) || this.allowedDomains.some((domain) => host.endsWith(domain));
  }

  private addAllowed(entry: string): void {
    const [address = "", prefix, ...rest] = entry.replace(/^\[(.*)\]/, "$1").split("/");
    if (isIP(address) && rest.length === 0) {
      const family = familyOf(address);
      const max = family === "ipv4" ? 32 : 128;
      const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (!(bits <= max)) throw new Error(`HEARTH_CALLBACK_ALLOW: ${entry} has an invalid prefix length`);
      this.allowedAddresses.addSubnet(address, bits, family);
      return;
    }
    const name = entry.toLowerCase().replace(/\.$/, "");
    if (!HOST_PATTERN.test(name)) throw new Error(`HEARTH_CALLBACK_ALLOW: ${entry} is neither a host name, a *.domain pattern, an IP address nor a CIDR`);
    if (name.startsWith("*.")) this.allowedDomains.push(name.slice(1));
    else this.allowedNames.push(name);
  }
}

/** The URL's host as a name or a bare address: lower case, no trailing dot, no IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
}

function familyOf(address: string): Family {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

function ownAddresses(host: string): string[] {
  if (!isIP(host)) return [];
  if (host !== "0.0.0.0" && host !== "::") return [host];
  return Object.values(os.networkInterfaces()).flatMap((interfaces) => (interfaces ?? []).map((i) => i.address.replace(/%.*$/, "")));
}
