import type { SourcePos } from '../errors.js';
import { expandHostRange } from './host-range.js';

// Ansible's parse_address (parsing/utils/addresses.py): a port is split off only when what is
// left is a valid IPv4 address, IPv6 address or host name (each may hold [x:y] ranges).
const NUM_RANGE = String.raw`\[[0-9]+:[0-9]+(?::[0-9]+)?\]`;
const HEX_RANGE = String.raw`\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]`;
const ALNUM_RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const I4 = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUM_RANGE})`;
const I6 = String.raw`(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const W = String.raw`[\p{L}\p{N}\p{M}_]`;
const LABEL = String.raw`(?:${W}|${ALNUM_RANGE})(?:${W}|-|${ALNUM_RANGE})*(?<![_-])`;
const IPV4 = new RegExp(String.raw`^(?:${I4}\.){3}${I4}$`, 'i');
const IPV6 = new RegExp(
  '^(?:' +
    [
      `(?:${I6}:){7}${I6}`,
      `(?:${I6}:){1,6}:`,
      `(?:${I6}:)(?::${I6}){1,6}`,
      `(?:${I6}:){2}(?::${I6}){1,5}`,
      `(?:${I6}:){3}(?::${I6}){1,4}`,
      `(?:${I6}:){4}(?::${I6}){1,3}`,
      `(?:${I6}:){5}(?::${I6}){1,2}`,
      `(?:${I6}:){6}(?::${I6})`,
      `:(?::${I6}){1,6}`,
      `${I6}?::`,
      String.raw`(?:0:){6}(?:${I6}\.){3}${I6}`,
      String.raw`::(?:ffff:)?(?:${I6}\.){3}${I6}`,
      String.raw`(?:0:){5}ffff:(?:${I6}\.){3}${I6}`,
    ].join('|') +
    ')$',
  'i',
);
const HOSTNAME = new RegExp(String.raw`^${LABEL}(?:\.${LABEL})*$`, 'iu');
const BRACKETED_PORT = /^\[(.+)\]:([0-9]+)$/;
const HOST_PORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;

/** Ansible's parse_address: the host and optional port, or undefined when it is not an address. */
export function parseAddress(pattern: string): { host: string; port?: number } | undefined {
  let host = pattern;
  let port: number | undefined;
  for (const re of [BRACKETED_PORT, HOST_PORT]) {
    const m = re.exec(host);
    if (m) {
      host = m[1]!;
      port = Number(m[2]);
    }
  }
  if (!IPV4.test(host) && !IPV6.test(host) && !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

/**
 * A host key of an inventory (`rtr[01:03]:2222`, `[2001:db8::1]:22`, `edge01`): the host names it
 * stands for and the port it gives them, as Ansible's `_expand_hostpattern` reads it.
 */
export function expandHostPattern(pattern: string, pos?: SourcePos): { names: string[]; port?: number } {
  // Not an address (odd characters): the whole key is the name, as in Ansible.
  const { host, port } = parseAddress(pattern) ?? { host: pattern };
  return { names: expandHostRange(host, pos), port };
}
