import ipaddr from 'ipaddr.js';

/** True for an address or CIDR range (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`). */
export function isAddressRange(value: string): boolean {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
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
    if (!isAddressRange(range)) return false;
    const [network, bits] = range.includes('/')
      ? ipaddr.parseCIDR(range)
      : [ipaddr.process(range), undefined];
    if (parsed.kind() !== network.kind()) return false;
    return parsed.match(network, bits ?? (network.kind() === 'ipv4' ? 32 : 128));
  });
}
