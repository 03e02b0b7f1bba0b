import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../../src/facts/content-hash.js';
import { CACHE_MISS_EXIT, cacheMiss, cachedScript, CacheRecord, SCRIPT_CACHE } from '../../../src/engine/script-cache.js';

/** Runs a cached script the way the router does (bash -s), its cache moved into `dir`. */
function run(script: string, dir: string, after = 'edge_facts\n') {
  const input = script.split(SCRIPT_CACHE).join(dir) + after;
  return spawnSync('bash', ['-s'], { input, encoding: 'utf8' });
}

// A body that would break a careless carrier: a line that ends a here-document, parentheses,
// every kind of quote and expansion (which must stay unexpanded until the body runs).
const BODY = `edge_facts() {
  echo "facts $((1 + 1))" 'single $HOME' \`echo back\`
  cat <<'EOF'
EDGE_CACHE_
)( unbalanced $HOME \`x\` "
EOF
}
`;
describe('scripts kept on the host by content hash', () => {
  it('whole the first time (stored on the way), then by reference; both run the same body', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'edge-cache-')), 'cache');
    const first = cachedScript(BODY, () => false, true);
    expect(first.use).toBe('installed');
    const a = run(first.script, dir);
    expect(a.status, a.stderr).toBe(0);
    expect(readFileSync(join(dir, first.hash), 'utf8')).toBe(BODY);
    expect(contentHash(readFileSync(join(dir, first.hash), 'utf8'))).toBe(first.hash);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, first.hash)).mode & 0o777).toBe(0o600);

    const ref = cachedScript(BODY, (h) => h === first.hash, true);
    expect(ref.use).toBe('reference');
    expect(Buffer.byteLength(ref.script)).toBeLessThan(600);
    const b = run(ref.script, dir);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    expect(a.stdout).toBe('facts 2 single $HOME back\nEDGE_CACHE_\n)( unbalanced $HOME `x` "\n');
  });

  it('a missing or altered file is never run: the exec ends with CACHE_MISS_EXIT saying which', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'edge-cache-')), 'cache');
    const ref = cachedScript(BODY, () => true, true);
    const missing = run(ref.script, dir, 'echo ran\n');
    expect(missing.status).toBe(CACHE_MISS_EXIT);
    expect(missing.stdout).toBe('');
    expect(cacheMiss(missing.status, missing.stderr)).toBe('missing');

    run(cachedScript(BODY, () => false, true).script, dir);
    writeFileSync(join(dir, ref.hash), BODY.replace('facts', 'pwned'));
    const altered = run(ref.script, dir, 'echo ran\n');
    expect(altered.status).toBe(CACHE_MISS_EXIT);
    expect(altered.stdout).toBe('');
    expect(cacheMiss(altered.status, altered.stderr)).toBe('altered');
    expect(cacheMiss(0, altered.stderr)).toBeUndefined();
  });

  it('--check stores nothing and touches nothing', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'edge-cache-')), 'cache');
    const inline = cachedScript(BODY, () => false, false);
    expect(inline.use).toBe('inline');
    expect(run(inline.script, dir).status).toBe(0);
    expect(existsSync(dir)).toBe(false);
    run(cachedScript(BODY, () => false, true).script, dir);
    const f = join(dir, inline.hash);
    utimesSync(f, 1000, 1000);
    expect(run(cachedScript(BODY, () => true, false).script, dir).status).toBe(0);
    expect(statSync(f).mtimeMs).toBe(1_000_000);
  });

  it('the host keeps the 8 most recently used files', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'edge-cache-')), 'cache');
    for (let i = 0; i < 11; i++) {
      const s = cachedScript(`edge_facts() { echo ${i}; }\n`, () => false, true);
      expect(run(s.script, dir).stdout).toBe(`${i}\n`);
      // ls -t orders by mtime (whole seconds on some filesystems): make the order unambiguous.
      utimesSync(join(dir, s.hash), 1000 + i, 1000 + i);
    }
    expect(readdirSync(dir)).toHaveLength(8);
  });

  it("the controller's record: per host, the newest few, never more than it was told", () => {
    const rec = new CacheRecord(join(mkdtempSync(join(tmpdir(), 'edge-rec-')), 'cache'));
    const h = (i: number) => contentHash(String(i));
    expect(rec.has('r1', h(1))).toBe(false);
    for (let i = 1; i <= 5; i++) rec.add('r1', h(i));
    expect(rec.has('r1', h(1))).toBe(false); // beyond what it remembers (fewer than the host keeps)
    expect(rec.has('r1', h(5))).toBe(true);
    expect(rec.has('r2', h(5))).toBe(false);
    rec.forget('r1', h(5));
    expect(rec.has('r1', h(5))).toBe(false);
    expect(rec.has('r1', h(4))).toBe(true);
    rec.forget('r1');
    expect(rec.has('r1', h(4))).toBe(false);
    rec.add('a/../b', h(1));
    expect(rec.has('a/../b', h(1))).toBe(true);
  });

  it('the record is read through the bounded reader: a FIFO is refused at once, not waited on', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'edge-rec-')), 'cache');
    mkdirSync(dir, { mode: 0o700 });
    const fifo = join(dir, 'r1');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // A writer that holds the FIFO open for 3 s: a blocking read would wait that long, then see nothing.
    const writer = spawn('sh', ['-c', `sleep 3 > '${fifo}'`], { stdio: 'ignore' });
    try {
      const t0 = performance.now();
      expect(() => new CacheRecord(dir).has('r1', contentHash('1'))).toThrow(/FIFO/);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      writer.kill();
    }
  });

  it('the record is written through a fresh O_EXCL name: a symlink planted at the old fixed temp name is not followed', () => {
    const parent = mkdtempSync(join(tmpdir(), 'edge-rec-'));
    const dir = join(parent, 'cache');
    mkdirSync(dir, { mode: 0o700 });
    const victim = join(parent, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(dir, `r1.${process.pid}.tmp`));
    new CacheRecord(dir).add('r1', contentHash('1'));
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(statSync(join(dir, 'r1')).mode & 0o777).toBe(0o600);
  });

  it('.edge/cache is checked as the journals are: behind a symlink it is refused, nothing removed (rollback --baseline forgets through it)', () => {
    const parent = mkdtempSync(join(tmpdir(), 'edge-rec-'));
    const elsewhere = join(parent, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    writeFileSync(join(elsewhere, 'r1'), `${contentHash('1')}\n`);
    mkdirSync(join(parent, '.edge'), { mode: 0o700 });
    symlinkSync(elsewhere, join(parent, '.edge', 'cache'));
    const rec = new CacheRecord(join(parent, '.edge', 'cache'));
    expect(() => rec.forget('r1')).toThrow(/\.edge\/cache \(owner uid \d+, mode \d+\) is not a directory \(a symlink\?\): refusing to keep or read the script cache record there/);
    expect(() => rec.has('r1', contentHash('1'))).toThrow(/not a directory/);
    expect(existsSync(join(elsewhere, 'r1'))).toBe(true);
  });
});
