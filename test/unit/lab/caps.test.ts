import { describe, expect, it } from 'vitest';
import { decodeCaps, withCapsOnly } from '../../../src/lab/caps.js';

describe("a lab command gets a router root's capabilities", () => {
  it('decodes a /proc status mask as setpriv names them (nspawn routers: no sys_time, sys_module, sys_rawio)', () => {
    const caps = decodeCaps('00000000fcecbfff');
    expect(caps).toContain('net_admin');
    expect(caps).toContain('sys_admin');
    for (const gone of ['sys_time', 'sys_module', 'sys_rawio', 'sys_resource', 'ipc_lock']) expect(caps).not.toContain(gone);
    expect(decodeCaps('0')).toEqual([]);
  });

  it('runs the command with only those in its bounding set', () => {
    expect(withCapsOnly(['net_admin', 'kill'], ['nsenter', '-t', '1', '-a', 'date'])).toEqual(['setpriv', '--bounding-set', '-all,+net_admin,+kill', '--', 'nsenter', '-t', '1', '-a', 'date']);
  });
});
