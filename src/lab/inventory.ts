/**
 * `inventories/lab.yaml`: an Ansible-style inventory of the lab's routers (group `lab`), with the
 * lab's SSH key and known_hosts file (strict host-key checking works from the start) and edge's
 * interface variables. The health targets are the lab internet's — they override the public
 * defaults, which do not exist inside the lab. Each router's LAN gets its own ULA /64 for translated
 * IPv6. Deterministic for a given router count and instance.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LabPlan } from './plan.js';
import { ROUTER_IFS } from './plan.js';

export function renderInventory(plan: LabPlan, files: { key: string; knownHosts: string }): string {
  const list = (xs: string[]) => `[${xs.join(', ')}]`;
  const lines = [
    '# yaml-language-server: $schema=./inventory.schema.json',
    '# The local lab, written by `edge lab up` (rewritten on every up; see `edge lab status`).',
    `# Routers are containers on this host, reached over the lab bridge ${plan.bridge} (${plan.mgmtSubnet}).`,
    'all:',
    '  children:',
    '    lab:',
    '      vars:',
    '        ansible_user: root',
    `        ansible_ssh_private_key_file: ${files.key}`,
    `        edge_known_hosts_file: ${files.knownHosts}`,
    `        edge_wan1_interface: ${ROUTER_IFS.wan1}`,
    `        edge_wan2_interface: ${ROUTER_IFS.wan2}`,
    `        edge_lan_interface: ${ROUTER_IFS.lan}`,
    `        edge_mgmt_interface: ${ROUTER_IFS.mgmt}`,
    `        edge_mgmt_subnets: ${list([plan.mgmtSubnet])}`,
    '        # the lab internet\'s health-check targets (the public defaults are unreachable in the lab)',
    `        edge_wan1_targets: ${list(plan.targets)}`,
    `        edge_wan2_targets: ${list(plan.targets)}`,
    // quoted: YAML 1.1 readers (ansible-inventory) are not to guess at colons
    `        edge_wan1_targets6: ${list(plan.targets6.map((a) => `'${a}'`))}`,
    `        edge_wan2_targets6: ${list(plan.targets6.map((a) => `'${a}'`))}`,
    '      hosts:',
    // each router's LAN IPv6 prefix (translated mode): a ULA of its own, so a leak seen outside names its router
    ...plan.routers.flatMap((r) => [`        ${r.name}:`, `          ansible_host: ${r.mgmt.address}`, `          edge_ipv6_lan_prefix: ${r.lan.ula}`]),
  ];
  return lines.join('\n') + '\n';
}

export function writeInventory(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
