/**
 * Small text parsers conf/ needs (conf is a leaf and may not import proto/wire/addr.ts). Addresses
 * are numbers as in proto/wire/addr.ts: IPv4 unsigned 32-bit, MAC 48-bit. Parsers return -1 on bad
 * input; they never throw.
 */

/** Dotted quad, each part 0-255 without leading zeros (as inet_pton, and the libvma.conf INT token). */
export function parseIpv4Text(s: string): number {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s.trim());
  if (!m) return -1;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return -1;
    v = v * 256 + o;
  }
  return v;
}

export function formatIpv4Text(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Six hex pairs separated by ':' or '-'. */
export function parseMacText(s: string): number {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(s.trim());
  if (!m) return -1;
  let v = 0;
  for (const i of [1, 3, 4, 5, 6, 7]) v = v * 256 + parseInt(m[i], 16);
  return v;
}

export function formatMacText(mac: number): string {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--) out.push((Math.floor(mac / 2 ** (8 * i)) & 255).toString(16).padStart(2, '0'));
  return out.join(':');
}

/** The netmask of a prefix length (0 → 0, 32 or more → all ones), unsigned. */
export function maskOf(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}
