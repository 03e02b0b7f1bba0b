#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=30
// A young generation of 4 MB (V8's default grows to 32): with hundreds of hosts in flight it keeps
// the controller's peak RSS down (1,000 hosts on the bench:scale rig: 162 MB without, 129 MB with
// it, CPU per host no worse; README "Scale"). The old generation may grow 30 % past what the last
// full collection kept (V8 lets it grow up to 4×): each host's short-lived objects outlive the
// young generation and piled up as garbage, 259 MB at 1,000 hosts, 160 MB with it, CPU per host
// the same. `npm run edge` passes the same flags.
import { catchEarlySignals } from './commands/early-signals.js';

// The entry point is only this: a signal is edge's interruption (exit 99) from here on, while the
// rest of edge loads (on a busy machine that takes seconds, and Ctrl-C there used to kill node
// with 130). main.ts is loaded only after the handlers are in place.
catchEarlySignals();
const { main } = await import('./main.js');
process.exitCode = await main(process.argv);
