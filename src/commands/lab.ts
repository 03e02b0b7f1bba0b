import type { Command } from 'commander';
import { EdgeError } from '../errors.js';
import { labDemo } from '../lab/demo.js';
import { parseFaultAction } from '../lab/faults.js';
import type { LabStatus } from '../lab/lab.js';
import { labDown, labExec, labFault, labGateway, labPrefix, labProbe, labReboot, labStatus, labUp } from '../lab/lab.js';
import type { RouterKind } from '../lab/plan.js';
import { DEFAULT_ROUTERS, MAX_ROUTERS, kindOf, parseKinds, parseWan, parseWhich } from '../lab/plan.js';
import { formatProbe } from '../lab/probe.js';
import { requireRoot } from '../lab/sys.js';
import { screenJson, screenText } from '../ui/screen.js';

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^[0-9]+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new EdgeError('USAGE', `${name} must be an integer ${min}-${max}, got '${v}'`);
    return Number(v);
  };
}

export function formatStatus(s: LabStatus): string {
  if (!s.up) return `the lab is down (no state in ${s.stateDir}); start it with \`edge lab up\`\n`;
  const head = [
    `lab: ${s.routers.length} routers, state ${s.stateDir}`,
    `  bridge ${s.bridge?.name} ${s.bridge?.address}; internet ${s.internet?.ns}: targets ${s.internet?.targets.join(' ')}, ` +
      `whoami ${s.internet?.whoami} ${s.internet?.whoamiRunning ? 'running' : 'NOT running'}`,
  ];
  const via = (a: { address?: string; gateway?: string }) =>
    `${a.address ?? '-'}${a.gateway ? ` via ${a.gateway}` : a.address ? ' (no default)' : ''}`;
  const rows = [
    ['ROUTER', 'KIND', 'CONTAINER', 'SYSTEMD', 'MGMT', 'WAN1 (DHCP)', 'WAN2 (static)', 'LAN', 'DHCP', 'FAULTS'],
    ...s.routers.map((r) => [
      r.name,
      r.kind,
      r.running ? `pid ${r.nspawnPid}` : 'stopped',
      r.systemd ?? '-',
      r.mgmt,
      via(r.wan1),
      via(r.wan2),
      `${r.lan} (client ${r.client})`,
      r.dhcp ? `on (${r.dhcpGateway} gw)` : 'OFF',
      [r.faults.wan1 !== 'none' && `wan1: ${r.faults.wan1}`, r.faults.wan2 !== 'none' && `wan2: ${r.faults.wan2}`]
        .filter(Boolean)
        .join('; ') || '-',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  return [...head, '', ...table].join('\n') + '\n';
}

/** --kinds, or --release/--net for every router; undefined: routers keep their kinds. */
export function kindsOption(o: { release?: string; net?: string; kinds?: string }): RouterKind[] | undefined {
  if (o.kinds !== undefined && (o.release !== undefined || o.net !== undefined))
    throw new EdgeError('USAGE', '--kinds cannot be combined with --release or --net (a kind names both)');
  if (o.kinds !== undefined) return parseKinds(o.kinds);
  if (o.release === undefined && o.net === undefined) return undefined;
  return [kindOf(o.release, o.net)];
}

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('a local fleet of real Debian routers (systemd-nspawn) with faults on demand; needs root')
    .hook('preAction', () => requireRoot());

  lab
    .command('up')
    .description('build (once) the router image and boot the lab, or bring a running lab in line; writes inventories/lab.yaml')
    .option('-n, --routers <n>', `number of routers, 1-${MAX_ROUTERS} (default: ${DEFAULT_ROUTERS}, or the running lab's)`, intArg('--routers', 1, MAX_ROUTERS))
    .option('--release <name>', 'Debian release of every router: bookworm or trixie (default bookworm)')
    .option('--net <setup>', 'how every router configures its links: networkd or ifupdown (default networkd)')
    .option('--kinds <list>', 'a kind per router, e.g. bookworm-networkd,trixie-ifupdown (r1 takes the first, r2 the second, and so on, repeating), or all (one of each)')
    .option('--inventory <path>', 'where to write the inventory (default inventories/lab.yaml)')
    .action(async (o: { routers?: number; inventory?: string; release?: string; net?: string; kinds?: string }) => {
      await labUp({ routers: o.routers, inventory: o.inventory, kinds: kindsOption(o) });
    });

  lab
    .command('status')
    .description('routers, addresses, state and faults')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await labStatus();
      process.stdout.write(o.json ? screenJson(s, 2) + '\n' : screenText(formatStatus(s)));
    });

  lab
    .command('down')
    .description('remove everything the lab made (processes, namespaces, links, state); keeps the image cache')
    .action(async () => {
      await labDown();
    });

  lab
    .command('reboot')
    .description('shut a router down gracefully and boot it again (its files persist); --hard: a power cut instead')
    .argument('<router>', 'r1, r2, …')
    .option('--hard', 'kill the router at once, nothing shut down (a power cut), then boot it')
    .action(async (router: string, flags: { hard?: boolean }) => {
      await labReboot(router, { hard: flags.hard === true });
    });

  lab
    .command('fault')
    .description('break a WAN in its ISP: link-down | upstream-cut | loss PCT | latency MS | clear (faults combine)')
    .argument('<router>', 'r1, r2, …')
    .argument('<wan>', 'wan1 or wan2')
    .argument('<fault...>', 'link-down | upstream-cut | loss PCT | latency MS | clear')
    .action(async (router: string, wan: string, fault: string[]) => {
      await labFault(router, parseWan(wan), parseFaultAction(fault));
    });

  lab
    .command('gateway')
    .description("ISP1's DHCP server hands out its other address as the gateway; the router renews and follows")
    .argument('<router>', 'r1, r2, …')
    .argument('<wan>', 'wan1 (the DHCP WAN)')
    .option('--to <which>', 'primary or alternate (default: the other one)')
    .action(async (router: string, wan: string, o: { to?: string }) => {
      await labGateway(router, parseWan(wan), parseWhich(o.to));
    });

  lab
    .command('prefix')
    .description("the ISP renumbers: its DHCPv6 server delegates its other prefix and the router's WAN link reconnects")
    .argument('<router>', 'r1, r2, …')
    .argument('<wan>', 'wan1 or wan2')
    .option('--to <which>', 'primary or alternate (default: the other one)')
    .action(async (router: string, wan: string, o: { to?: string }) => {
      await labPrefix(router, parseWan(wan), parseWhich(o.to));
    });

  lab
    .command('exec')
    .description('run a command in a router (inside its container), its LAN client, its ISPs, or the internet')
    .argument('<target>', 'r1 | r1-lan | r1-isp1 | r1-isp2 | inet')
    .argument('<command...>', 'the command, after --')
    .usage('<target> -- <command...>')
    .allowUnknownOption()
    .action(async (target: string, command: string[]) => {
      process.exitCode = await labExec(target, command);
    });

  lab
    .command('probe')
    .description("from a router's LAN client: fresh TCP flows to the internet's whoami (which WAN each left by) and pings")
    .argument('<router>', 'r1, r2, …')
    .option('--count <n>', 'TCP flows (default 3)', intArg('--count', 1, 100))
    .option('--json', 'print JSON')
    .action(async (router: string, o: { count?: number; json?: boolean }) => {
      const p = await labProbe(router, { count: o.count });
      process.stdout.write(o.json ? screenJson(p, 2) + '\n' : screenText(formatProbe(p)) + '\n');
    });

  lab
    .command('demo')
    .description('lab up, apply the failover playbook, cut WAN1 upstream and restore it, showing which WAN new flows use, with timings')
    .option('-n, --routers <n>', 'number of routers (default 3)', intArg('--routers', 1, MAX_ROUTERS))
    .option('--router <name>', 'the router to break (default r1)')
    .option('--timeout <s>', 'seconds to wait for each switch (default 90)', intArg('--timeout', 1, 3600))
    .action(async (o: { routers?: number; router?: string; timeout?: number }) => {
      await labDemo({ routers: o.routers, router: o.router, timeoutS: o.timeout });
    });
}
