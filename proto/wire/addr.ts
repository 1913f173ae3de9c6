/**
 * Addresses as plain numbers, so Reprs hold no objects:
 * - an IPv4 address is an unsigned 32-bit number (198.18.0.1 === 0xc6120001);
 * - a MAC address is an unsigned 48-bit number (exact in a double: 02:00:00:00:00:01 === 0x020000000001).
 * Reading and writing go through these helpers; formatting is for logs, tools and tests.
 */
import type { Bytes } from './bytes';

export const MAC_BROADCAST = 0xffffffffffff;
export const IPV4_BROADCAST = 0xffffffff;
export const IPV4_ANY = 0;

export function readMac(b: Bytes, off: number): number {
  return b.dv.getUint16(off) * 0x100000000 + b.dv.getUint32(off + 2);
}

export function writeMac(b: Bytes, off: number, mac: number): void {
  b.dv.setUint16(off, Math.floor(mac / 0x100000000));
  b.dv.setUint32(off + 2, mac % 0x100000000);
}

export function formatMac(mac: number): string {
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const byte = Math.floor(mac / 2 ** (8 * i)) % 256;
    s += (i === 5 ? '' : ':') + byte.toString(16).padStart(2, '0');
  }
  return s;
}

/** Parses `aa:bb:cc:dd:ee:ff` (or with `-`); returns -1 when it is not a MAC. */
export function parseMac(s: string): number {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(s.trim());
  if (!m) return -1;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i], 16);
  return v;
}

export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / 0x10000000000) & 1) === 1;
}

/** The Ethernet MAC a multicast IPv4 group maps to (RFC 1112 §6.4: 01:00:5e + low 23 bits). */
export function multicastMacOf(group: number): number {
  return 0x01005e000000 + (group & 0x7fffff);
}

export function formatIp(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Parses a dotted quad; returns -1 when it is not an IPv4 address. */
export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return -1;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return -1;
    v = v * 256 + o;
  }
  return v;
}

export function isMulticastIpv4(ip: number): boolean {
  return ip >>> 28 === 0xe;
}

/** The netmask of a prefix length (0..32) as an unsigned number. */
export function prefixMask(prefix: number): number {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
}
