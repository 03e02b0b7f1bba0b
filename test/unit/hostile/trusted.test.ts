import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadSettingFiles } from '../../../src/commands/settings.js';
import { findAnsibleCfg } from '../../../src/config/ansible-cfg.js';
import { readJournal } from '../../../src/engine/journal.js';
import { resolveInventoryPath } from '../../../src/inventory/resolve-path.js';

/**
 * Issue 19, finding 3: the controller reads settings, inventories and journals from the working
 * directory only when no other user could have written them (trusted.ts): owned by the user or
 * root, not group- or world-writable. Each refusal names the path, its owner and its mode.
 */

const isRoot = process.getuid?.() === 0;
const OTHER_UID = 4242;

/** A fresh project directory (0700, ours) holding `files` (relative path → content). */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'edge-trust-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const SETTINGS = { '.edge/config.yaml': 'inventory: /tmp/mallory.yaml\naccept-new-host-keys: true\n' };
const settingsOf = (dir: string) => loadSettingFiles({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') }, dir);

describe('edge settings from ./.edge/config.yaml', () => {
  it('are read when the file and .edge are ours and closed', () => {
    expect(settingsOf(project(SETTINGS)).edge?.values.get('accept-new-host-keys')?.value).toBe(true);
  });

  it('are refused when the file is group- or world-writable', () => {
    for (const mode of [0o664, 0o646]) {
      const dir = project(SETTINGS);
      chmodSync(join(dir, '.edge/config.yaml'), mode);
      const shown = mode.toString(8).padStart(4, '0');
      expect(() => settingsOf(dir)).toThrow(new RegExp(`config\\.yaml \\(owner uid \\d+, mode ${shown}\\) is writable by (its group|every user): refusing to read edge settings`));
    }
  });

  it('are refused when .edge is writable by others', () => {
    const dir = project(SETTINGS);
    chmodSync(join(dir, '.edge'), 0o777);
    expect(() => settingsOf(dir)).toThrow(/\.edge \(owner uid \d+, mode 0777\) is writable by every user/);
  });

  it.skipIf(!isRoot)('are refused when another user owns .edge or the file', () => {
    for (const p of ['.edge', '.edge/config.yaml']) {
      const dir = project(SETTINGS);
      chownSync(join(dir, p), OTHER_UID, OTHER_UID);
      expect(() => settingsOf(dir)).toThrow(new RegExp(`${p.replace('.', '\\.')} \\(owner uid ${OTHER_UID}, mode 0\\d+\\) is owned by uid ${OTHER_UID}, not by you`));
    }
  });
});

describe('./ansible.cfg', () => {
  it('is refused when group-writable (a world-writable cwd still skips it, as Ansible does)', () => {
    const dir = project({ 'ansible.cfg': '[defaults]\nremote_user = mallory\n' });
    expect(findAnsibleCfg({ HOME: dir }, dir, dir).file).toBe(join(dir, 'ansible.cfg'));
    chmodSync(join(dir, 'ansible.cfg'), 0o664);
    expect(() => findAnsibleCfg({ HOME: dir }, dir, dir)).toThrow(/ansible\.cfg \(owner uid \d+, mode 0664\) is writable by its group: refusing to read ansible\.cfg/);
  });

  it.skipIf(!isRoot)('is refused when another user owns it', () => {
    const dir = project({ 'ansible.cfg': '[defaults]\nremote_user = mallory\n' });
    chownSync(join(dir, 'ansible.cfg'), OTHER_UID, OTHER_UID);
    expect(() => findAnsibleCfg({ HOME: dir }, dir, dir)).toThrow(new RegExp(`owner uid ${OTHER_UID}, mode 0644\\) is owned by uid ${OTHER_UID}`));
  });
});

describe('-i NAME → inventories/NAME.yaml', () => {
  it('resolves when inventories/ and the file are ours', () => {
    const dir = project({ 'inventories/prod.yaml': 'all: {}\n' });
    expect(resolveInventoryPath('prod', dir)).toBe(join('inventories', 'prod.yaml'));
  });

  it('is refused when inventories/ or the file is writable by others', () => {
    for (const p of ['inventories', 'inventories/prod.yaml']) {
      const dir = project({ 'inventories/prod.yaml': 'all: {}\n' });
      chmodSync(join(dir, p), 0o777);
      expect(() => resolveInventoryPath('prod', dir)).toThrow(new RegExp(`${p.replace('.', '\\.')} \\(owner uid \\d+, mode 0777\\) is writable by every user: refusing to read the inventory`));
    }
  });

  it.skipIf(!isRoot)('is refused when another user owns the file', () => {
    const dir = project({ 'inventories/prod.yaml': 'all: {}\n' });
    chownSync(join(dir, 'inventories/prod.yaml'), OTHER_UID, OTHER_UID);
    expect(() => resolveInventoryPath('prod', dir)).toThrow(new RegExp(`owned by uid ${OTHER_UID}`));
  });
});

describe.skipIf(!isRoot)('.edge/runs', () => {
  it('journals are not read from a .edge another user owns (they say what rollback acts on)', async () => {
    const dir = project({ '.edge/runs/20261201T000000Z-1a2b3c4d.jsonl': '{}\n' });
    chownSync(join(dir, '.edge'), OTHER_UID, OTHER_UID);
    await expect(readJournal('20261201T000000Z-1a2b3c4d', join(dir, '.edge', 'runs'))).rejects.toThrow(
      new RegExp(`\\.edge \\(owner uid ${OTHER_UID}, mode 0\\d+\\) is owned by uid ${OTHER_UID}, not by you \\(uid 0\\) or root: refusing to keep or read run journals there`),
    );
  });

  it('a journal another user owns is refused, even in a .edge of ours', async () => {
    const dir = project({ '.edge/runs/20261201T000000Z-1a2b3c4d.jsonl': '{"type":"run","runId":"20261201T000000Z-1a2b3c4d"}\n' });
    const file = join(dir, '.edge', 'runs', '20261201T000000Z-1a2b3c4d.jsonl');
    chownSync(file, OTHER_UID, OTHER_UID);
    await expect(readJournal('20261201T000000Z-1a2b3c4d', join(dir, '.edge', 'runs'))).rejects.toThrow(
      `run journal ${file}: owner uid ${OTHER_UID}, mode 0644: owned by neither you nor root: refused`,
    );
  });

  it("a root-owned .edge others can write is refused naming it (a user's chmod would fail), a closed one is used as it is", async () => {
    // Run as a user (uid 1000) in a directory root made: .edge is root's.
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      const dir = project({ '.edge/runs/.keep': '' });
      chmodSync(join(dir, '.edge'), 0o777);
      await expect(readJournal('20261201T000000Z-1a2b3c4d', join(dir, '.edge', 'runs'))).rejects.toThrow(
        `${join(dir, '.edge')} (owner uid 0, mode 0777) is writable by every user: refusing to keep or read run journals there`,
      );
      chmodSync(join(dir, '.edge'), 0o755);
      chmodSync(join(dir, '.edge', 'runs'), 0o755);
      await expect(readJournal('20261201T000000Z-1a2b3c4d', join(dir, '.edge', 'runs'))).resolves.toBeUndefined();
      expect(statSync(join(dir, '.edge')).mode & 0o777).toBe(0o755);
    } finally {
      uid.mockRestore();
    }
  });
});
