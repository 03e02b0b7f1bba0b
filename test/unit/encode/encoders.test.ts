import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  nftComment,
  nftPrefix,
  nftPrefix6,
  nftString,
  shComment,
  sysctlKey,
  
  sysctlLine,
  sysctlValue,
  systemdExecPath,
  systemdValue,
  termLine,
  termText,
} from '../../../src/encode/index.js';

/**
 * One encoder per sink: each writes what it can represent as itself and refuses the rest. The
 * fuzz test (test/unit/hostile/fuzz.test.ts) throws every hostile value class at all of them.
 */

describe('terminal', () => {
  it('makes escape sequences, C1 controls and bidi overrides visible', () => {
    expect(termLine('r1\x1b]52;c;ZWNobyBwd25lZA==\x07')).toBe('r1\\x1b]52;c;ZWNobyBwd25lZA==\\x07');
    expect(termLine('\x9b2J')).toBe('\\x9b2J');
    expect(termLine('abc\u202egnp.exe')).toBe('abc\\u202egnp.exe');
    expect(termLine('a\u2028b\r\n')).toBe('a\\u2028b\\r\\n');
    expect(termLine('router-1 é 😀')).toBe('router-1 é 😀');
  });

  it('keeps the lines and tabs of multi-line text, nothing else', () => {
    expect(termText('line 1\n\tline 2\r\x1b[2K')).toBe('line 1\n\tline 2\\r\\x1b[2K');
  });
});

describe('shell comment', () => {
  it('cannot be ended early', () => {
    expect(shComment('x\ntouch /tmp/p')).toBe('x\\ntouch /tmp/p');
    expect(execFileSync('bash', ['-c', `# ${shComment('x\ntouch /tmp/edge-canary-encode\r\u2028')}\necho ok`], { encoding: 'utf8' })).toBe('ok\n');
  });
});

describe('nft', () => {
  it('refuses what a string literal, a prefix or a comment cannot hold', () => {
    expect(nftString('eth0.100')).toBe('"eth0.100"');
    for (const bad of ['', 'lan0"; flush ruleset; "', 'a b', 'x'.repeat(16), 'é']) expect(() => nftString(bad)).toThrow(/refusing/);
    expect(nftPrefix('10.0.0.0/8')).toBe('10.0.0.0/8');
    // The length is decimal digits with nothing after it (the fuzz test found `10.0.0.0/8//` and `10.0.0.0/8/x }` accepted).
    for (const bad of ['10.0.0.1', '10.0.0.0/33', '10.0.0.0/8 }; flush ruleset', '', '10.0.0.0/8/x }; flush ruleset', '10.0.0.0/8//', '10.0.0.0/', '10.0.0.0/0x8', '10.0.0.0/ 8']) {
      expect(() => nftPrefix(bad), bad).toThrow(/refusing/);
    }
    // nft reads a leading zero as octal: 010.0.0.0/8 would be 8.0.0.0/8 to it, fd00::/064 fd00::/52.
    for (const bad of ['010.0.0.0/8', '10.0.0.0/08', '10.0.0.0/00']) expect(() => nftPrefix(bad), bad).toThrow(/refusing/);
    for (const good of ['fd00:1::/64', 'FD00:AB::/48', '::/0', '::ffff:192.0.2.0/120', 'fd00:0001::/64']) expect(nftPrefix6(good)).toBe(good);
    for (const bad of ['fd00::/064', 'fd00::/0064', 'fd00::/00', 'fd00::', 'fd00::/129', 'fd00::/64 }', 'fd00::/64/x', 'fe80::1%eth0/64', '::ffff:010.0.0.0/120']) {
      expect(() => nftPrefix6(bad), bad).toThrow(/refusing/);
    }
    expect(nftComment('NAT WAN1')).toBe('"NAT WAN1"');
    for (const bad of ['a"b', 'a\nb', 'x'.repeat(129), '\u202e']) expect(() => nftComment(bad)).toThrow(/refusing/);
  });

  it('what it writes, nft -c reads', () => {
    const ruleset = `table inet edge_encode_check {\n\tset s { type ipv4_addr; flags interval; elements = { ${nftPrefix('198.18.0.0/15')} } }\n\tset s6 { type ipv6_addr; flags interval; elements = { ${nftPrefix6('FD00:AB::/48')} } }\n\tchain c { iifname ${nftString('eth0.100')} counter comment ${nftComment("it's # fine")}\n\t}\n}\n`;
    try {
      execFileSync('nft', ['-c', '-f', '-'], { input: ruleset, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const msg = String((e as { stderr?: Buffer }).stderr ?? e);
      // Without CAP_NET_ADMIN nft cannot even check; the syntax is what this test is about.
      if (!/Operation not permitted|cache initialization/.test(msg)) throw new Error(msg);
    }
  });
});

describe('sysctl', () => {
  it('allows only the networking families, in well-formed keys', () => {
    for (const ok of ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.netfilter.nf_conntrack_max', 'net.core.somaxconn', 'net.ipv4.conf.eth0/100.rp_filter']) {
      expect(sysctlKey(ok)).toBe(ok);
    }
    for (const bad of ['kernel.core_pattern', 'kernel.modprobe', 'fs.suid_dumpable', 'net.ipv4.//.//kernel.core_pattern', 'net.ipv4.', 'net.ipv4..x', 'net/ipv4/ip_forward', '-p', 'net.ipv4.a b', 'net.ipv4.x\n']) {
      expect(() => sysctlKey(bad)).toThrow(/refusing/);
    }
  });

  it('values are one printable line that systemd-sysctl reads back unchanged', () => {
    expect(sysctlLine('net.ipv4.tcp_rmem', '4096\t87380 6291456')).toBe('net.ipv4.tcp_rmem = 4096\t87380 6291456');
    for (const bad of ['1\nkernel.modprobe = /tmp/x', ' 1', '1 ', '\x1b', 'x'.repeat(1025)]) expect(() => sysctlValue(bad)).toThrow(/refusing/);
  });
});

describe('systemd', () => {
  it('doubles % and refuses what would start a new line or directive', () => {
    expect(systemdValue('/etc/edge/50%.conf')).toBe('/etc/edge/50%%.conf');
    for (const bad of ['a\nExecStartPre=/bin/sh', 'a\\', ' a', 'a\u202e']) expect(() => systemdValue(bad)).toThrow(/refusing/);
  });

  it('takes only plain absolute paths into an Exec line', () => {
    expect(systemdExecPath('/usr/local/sbin/edge-failover')).toBe('/usr/local/sbin/edge-failover');
    for (const bad of ['edge-failover', '-/bin/x', '/bin/x; rm', '/bin/$x', '/bin/%n', '/a/../b', '/a b', '/a"b']) expect(() => systemdExecPath(bad)).toThrow(/refusing/);
  });

  it('a unit written through it passes systemd-analyze verify', () => {
    const unit = `[Unit]\nDescription=edge encode check\nConditionPathExists=${systemdValue('/etc/edge/50%.conf')}\n[Service]\nType=oneshot\nExecStart=${systemdExecPath('/bin/true')} run\n`;
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('sh', ['-c', `cat > "$1/edge-encode-check.service"`, 'sh', dir], { input: unit });
    const out = execFileSync('systemd-analyze', ['verify', `${dir}/edge-encode-check.service`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    execFileSync('rm', ['-rf', dir]);
    expect(out).toBe('');
  });
});
