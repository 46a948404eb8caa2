// host:port addresses: one check, one message, for the configuration schema and the command line.
import { isIP } from 'node:net';

/** AddressUse says what an address is for: a listen address may use port 0 (any free port); one to dial may not. */
export type AddressUse = 'listen' | 'dial';

/** HostPort is a checked address; `host` has no brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

// A DNS name (letters, digits, hyphens, dots; labels of at most 63) or `localhost`.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * checkAddress parses `host:port` (IPv6 in brackets). It returns the address, or the one reason
 * it is not one, phrased to follow the value (`"x": <problem>`).
 */
export function checkAddress(
  value: string,
  use: AddressUse,
  example = use === 'dial' ? '127.0.0.1:8091' : '0.0.0.0:15010',
): { ok: true; address: HostPort } | { ok: false; problem: string } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value.trim());
  if (!m) return { ok: false, problem: `expected host:port, e.g. ${example}` };
  const host = m[1] ?? m[2] ?? '';
  const portText = m[3] ?? '';
  if (host === '') return { ok: false, problem: `the host is missing; expected host:port, e.g. ${example}` };
  if (m[1] !== undefined ? isIP(host) !== 6 : isIP(host) === 0 && !HOST_NAME.test(host))
    return { ok: false, problem: `${JSON.stringify(host)} is not a host name or IP address` };
  const min = use === 'listen' ? 0 : 1;
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  const anyPort = use === 'listen' ? ' (0 = any free port)' : '';
  if (!(port >= min && port <= 65535))
    return { ok: false, problem: `port ${JSON.stringify(portText)} is not ${min}–65535${anyPort}` };
  return { ok: true, address: { host, port } };
}
