import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** An address or CIDR range as network and prefix length; throws when it is neither. */
function parseRange(value: string): Range {
  if (value.includes('/')) return ipaddr.parseCIDR(value);
  const address = ipaddr.process(value);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** True for an address or CIDR range (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`). */
export function isAddressRange(value: string): boolean {
  try {
    parseRange(value);
    return true;
  } catch {
    return false;
  }
}

/** Whether `address` lies in one of `ranges` (IPv4-mapped IPv6 addresses count as IPv4). */
export function addressInRanges(address: string, ranges: readonly string[]): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  return ranges.some((range) => {
    try {
      const [network, bits] = parseRange(range);
      return parsed.kind() === network.kind() && parsed.match(network, bits);
    } catch {
      return false;
    }
  });
}

/** Longer than any address with its zone (`ffff:…:255.255.255.255%eth0`): never an address. */
const ADDRESS_LENGTH = 64;

/**
 * Memoizes a pure function of an address: every request resolves its client's address and its
 * limit key, and parsing one costs a few microseconds. Bounded: once full it starts over, so
 * a flood of fresh addresses costs what parsing each did, never memory; a value too long to be
 * an address (a forwarded header can carry any text) is never kept.
 */
function memoized(of: (address: string) => string, size = 4096): (address: string) => string {
  const known = new Map<string, string>();
  return (address) => {
    if (address.length > ADDRESS_LENGTH) return of(address);
    let value = known.get(address);
    if (value === undefined) {
      if (known.size >= size) known.clear();
      value = of(address);
      known.set(address, value);
    }
    return value;
  };
}

/**
 * One spelling per address: an IPv4-mapped IPv6 address (`::ffff:10.0.0.7`, what a dual-stack
 * socket reports for IPv4 clients) becomes plain IPv4, so limits, allow-lists, logs and the
 * audit log name an address the same way. Anything unparsable is returned as it is.
 */
export const canonicalAddress = memoized((address) => {
  try {
    return ipaddr.process(address).toString();
  } catch {
    return address;
  }
});

/**
 * The key every per-address limit counts under (issue 9): an IPv4 address as it is, an IPv6
 * address as its /64. One IPv6 subscriber or host usually holds a whole /64 (RFC 6177, SLAAC
 * privacy addresses), so counting single IPv6 addresses would give a guesser 2^64 fresh
 * counters. Allow-lists still match the exact address; only counting aggregates.
 */
export const addressLimitKey = memoized((address) => {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return address;
  }
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
});
