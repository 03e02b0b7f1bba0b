import type { ServerHostKeyAlgorithm } from 'ssh2';
import { EdgeError, errorMessage } from '../errors.js';
import {
  appendKnownHost,
  fingerprint,
  hostKeyName,
  keyTypeOfBlob,
  knownKeyTypes,
  lookup,
  type KnownHosts,
  type KnownKey,
  type LookupStatus,
} from './known-hosts.js';
import { knownHostsFor } from './known-hosts-index.js';
import { shQuote } from '../encode/index.js';

/**
 * Host key checking for one hop, plugged into ssh2's `hostVerifier`. ssh2 only learns "denied" and
 * reports a generic handshake failure; the verdict is kept here so the connection can throw the
 * real reason (HOSTKEY, with fingerprints) instead.
 */

export interface HostKeyVerdict {
  status: LookupStatus | 'accepted-new';
  offeredType: string;
  offeredFingerprint: string;
  known: KnownKey[];
  /** known_hosts line written when an unknown key was accepted. */
  recorded?: { file: string; line: string };
  /** Set when the key was refused: the error the connection should fail with. */
  error?: EdgeError;
}

export interface HostKeyPolicy {
  knownHostsFiles: readonly string[];
  acceptNew: boolean;
}

// ssh2's own preference order (lib/protocol/constants.js DEFAULT_SERVER_HOST_KEY), restated here
// because ssh2's `prepend` cannot move an algorithm that is already in the list.
const SSH2_HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

// A known_hosts key type names the key; an RSA key is asked for with a SHA-2 signature only (the
// SHA-1 `ssh-rsa` signature is forgeable with chosen prefixes; OpenSSH 8.8 dropped it too).
const ALGORITHMS_FOR_KEY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};

/**
 * Host key algorithms with the types already known for this host first, as ssh(1) orders them.
 * Without this, a server with both an ed25519 and an ecdsa key, known by its ecdsa key only, would
 * be asked for ed25519 and look changed.
 */
export function preferredHostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred = knownTypes
    .flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? [t])
    .filter((a): a is ServerHostKeyAlgorithm => (SSH2_HOST_KEY_ALGORITHMS as string[]).includes(a));
  return [...new Set([...preferred, ...SSH2_HOST_KEY_ALGORITHMS])];
}

export class HostKeyVerifier {
  verdict?: HostKeyVerdict;
  private readonly kh: KnownHosts;

  constructor(
    private readonly hop: { name: string; host: string; port: number },
    private readonly policy: HostKeyPolicy,
  ) {
    this.kh = knownHostsFor(policy.knownHostsFiles, hop.host, hop.port);
  }

  get algorithms(): ServerHostKeyAlgorithm[] {
    return preferredHostKeyAlgorithms(knownKeyTypes(this.kh, this.hop.host, this.hop.port));
  }

  /** For ssh2's hostVerifier (synchronous form): true lets the handshake go on. */
  readonly verify = (key: Buffer): boolean => {
    this.verdict = this.decide(key);
    return this.verdict.error === undefined;
  };

  private decide(key: Buffer): HostKeyVerdict {
    const { name, host, port } = this.hop;
    const where = `${name} (${host}:${port})`;
    const offeredType = keyTypeOfBlob(key) ?? 'unknown-key-type';
    const offeredFingerprint = fingerprint(key);
    const offered = `${offeredType} ${offeredFingerprint}`;
    const keyB64 = key.toString('base64');
    const r = lookup(this.kh, host, port, offeredType, keyB64);
    const base = { offeredType, offeredFingerprint, known: r.known };
    const knownList = r.known.map((k) => `${k.keyType} ${k.fingerprint} (${k.file}:${k.line})`).join(', ');
    // Hints are meant to be pasted: shQuote keeps `[host]:port` from being globbed.
    const khName = hostKeyName(host, port);

    switch (r.status) {
      case 'match':
        return { status: 'match', ...base };
      case 'revoked':
        return {
          status: 'revoked',
          ...base,
          error: new EdgeError('HOSTKEY', `host key of ${where} is REVOKED in known_hosts: ${offered}; refusing to connect`, {
            host: name,
          }),
        };
      case 'mismatch':
        return {
          status: 'mismatch',
          ...base,
          error: new EdgeError(
            'HOSTKEY',
            `HOST KEY CHANGED for ${where}: known ${knownList}; offered ${offered}. ` +
              'Refusing to connect: this could be a man-in-the-middle attack, or the host was reinstalled',
            {
              host: name,
              hint: `if the change is expected, remove the old key (ssh-keygen -R ${shQuote(khName)} -f ${shQuote(r.known[0]?.file ?? 'FILE')}) and check the new fingerprint out of band`,
            },
          ),
        };
      case 'unknown': {
        const file = this.policy.knownHostsFiles[0];
        if (!this.policy.acceptNew || file === undefined) {
          return {
            status: 'unknown',
            ...base,
            error: new EdgeError('HOSTKEY', `host key of ${where} is not known: ${offered}`, {
              host: name,
              hint:
                `check the fingerprint, then rerun with --accept-new-host-keys, or add it with ` +
                `ssh-keyscan -p ${port} ${shQuote(host)} >> ~/.ssh/known_hosts`,
            }),
          };
        }
        try {
          const line = appendKnownHost(file, host, port, offeredType, keyB64);
          return { status: 'accepted-new', ...base, recorded: { file, line } };
        } catch (e) {
          const err =
            e instanceof EdgeError ? e : new EdgeError('HOSTKEY', `cannot record host key of ${where}: ${errorMessage(e)}`, { host: name });
          return { status: 'unknown', ...base, error: err };
        }
      }
    }
  }
}
