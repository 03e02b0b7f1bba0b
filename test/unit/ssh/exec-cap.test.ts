import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { EXEC_OUTPUT_CAP, runOnChannel, type ChannelHooks } from '../../../src/ssh/exec.js';

/**
 * A router is untrusted input (issue 19): an exec that floods stdout or stderr past
 * EXEC_OUTPUT_CAP is failed at the cap, its channel closed, what it sent dropped. The channel here
 * is a stand-in for ssh2's (the part runOnChannel uses): the router's side writes 1 MiB chunks
 * until `total` has gone, whatever the controller does, and then closes.
 */
class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.emit('close'));
  }
  signal(): void {}
  end(): void {}
}

const MiB = 1024 * 1024;

function flood(stream: 'stdout' | 'stderr', total: number) {
  const ch = new FakeChannel();
  let written = 0;
  const client = {
    exec(_cmd: string, cb: (err: Error | undefined, ch: FakeChannel) => void) {
      cb(undefined, ch);
      const chunk = Buffer.alloc(MiB, 0x41);
      const pump = () => {
        if (written >= total) return ch.close();
        written += chunk.length;
        (stream === 'stdout' ? ch : ch.stderr).emit('data', chunk);
        setImmediate(pump);
      };
      setImmediate(pump);
    },
  } as unknown as Client;
  let received = 0;
  const hooks: ChannelHooks = {
    onStart() {},
    onSent() {},
    onReceived(n) {
      received += n;
    },
    onClosed() {},
    onAbortable: () => () => {},
    lostError: () => undefined,
  };
  return { ch, client, hooks, written: () => written, received: () => received };
}

describe('one exec cannot send more than EXEC_OUTPUT_CAP', () => {
  it.each(['stdout', 'stderr'] as const)('a %s flood past the cap fails the exec at the cap and closes its channel', async (stream) => {
    const f = flood(stream, 2 * EXEC_OUTPUT_CAP);
    const run = runOnChannel(f.client, { command: 'facts', input: Buffer.alloc(0), host: 'r1' }, f.hooks);
    await expect(run).rejects.toThrow(`r1 sent more than 32 MiB on ${stream} for one command: the channel was closed and the output dropped`);
    expect(f.ch.closed).toBe(true);
    // failed on the first chunk past the cap, not at the end of the flood
    expect(f.written()).toBe(EXEC_OUTPUT_CAP + MiB);
  });

  it("an exec's own smaller cap (the facts document's) is where its flood ends", async () => {
    const f = flood('stdout', 2 * EXEC_OUTPUT_CAP);
    const run = runOnChannel(f.client, { command: 'facts', input: Buffer.alloc(0), host: 'r1', maxOutputBytes: 4 * MiB }, f.hooks);
    await expect(run).rejects.toThrow('r1 sent more than 4 MiB on stdout for one command');
    expect(f.written()).toBe(5 * MiB);
  });

  it('output up to the cap is delivered whole', async () => {
    const f = flood('stdout', EXEC_OUTPUT_CAP);
    const out = await runOnChannel(f.client, { command: 'facts', input: Buffer.alloc(0), host: 'r1' }, f.hooks);
    expect(out.stdout.length).toBe(EXEC_OUTPUT_CAP);
    expect(f.received()).toBe(EXEC_OUTPUT_CAP);
  });
});
