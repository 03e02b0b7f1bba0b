import { FILE_CAPS, readBoundedFile } from '../config/read-file.js';
import ssh2, { type AgentAuthMethod, type PublicKeyAuthMethod } from 'ssh2';
import { EdgeError, errorMessage } from '../errors.js';
import type { SshTarget } from './types.js';

/**
 * The authentication attempts for a target, in order: the inventory key, the agent, then the
 * ssh_config / default identity files. The inventory key goes first so an agent full of keys
 * cannot exhaust the server's MaxAuthTries (6) before the key the operator named.
 */

export interface AuthPlan {
  methods: (PublicKeyAuthMethod | AgentAuthMethod)[];
  /** What will be tried, for an "authentication failed" message. */
  tried: string[];
  /** Keys that cannot be used (encrypted, unreadable), with why. */
  skipped: string[];
}

export function planAuth(target: SshTarget): AuthPlan {
  const plan: AuthPlan = { methods: [], tried: [], skipped: [] };
  const seen = new Set<string>();
  const username = target.user;

  const addKey = (path: string, fromInventory: boolean) => {
    if (seen.has(path)) return;
    seen.add(path);
    let data: Buffer;
    try {
      data = readBoundedFile(path, { what: 'private key file', maxBytes: FILE_CAPS.key, host: target.name, field: 'ansible_ssh_private_key_file' });
    } catch (e) {
      // A key the operator named must exist (and be a key-sized regular file); silently trying
      // others would hide the typo.
      if (fromInventory) throw e;
      plan.skipped.push(`${path} (${errorMessage(e)})`);
      return;
    }
    const parsed = ssh2.utils.parseKey(data);
    if (parsed instanceof Error) {
      // edge never prompts for passphrases mid-run; encrypted keys belong in ssh-agent.
      const why = /encrypted|passphrase/i.test(parsed.message) ? 'encrypted: add it to ssh-agent' : parsed.message;
      plan.skipped.push(`${path} (${why})`);
      return;
    }
    plan.methods.push({ type: 'publickey', username, key: data });
    plan.tried.push(`key ${path}`);
  };

  if (target.privateKeyPath) addKey(target.privateKeyPath, true);
  if (target.agent) {
    plan.methods.push({ type: 'agent', username, agent: target.agent });
    plan.tried.push(`ssh-agent ${target.agent}`);
  }
  for (const k of target.identityFiles ?? []) addKey(k, false);

  if (plan.methods.length === 0) {
    const skipped = plan.skipped.length > 0 ? ` (skipped: ${plan.skipped.join('; ')})` : '';
    throw new EdgeError('CONNECT', `no usable SSH credentials for ${target.user}@${target.host}${skipped}`, {
      host: target.name,
      hint: 'set ansible_ssh_private_key_file, start ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519',
    });
  }
  return plan;
}
