#!/usr/bin/env -S node --max-semi-space-size=4
// A young generation of 4 MB (V8's default grows to 32): with hundreds of hosts in flight it keeps
// the controller's peak RSS down (1,000 hosts on the bench:scale rig: 162 MB without, 129 MB with
// it, CPU per host no worse; README "Scale"). `npm run edge` passes the same flag.
import { catchEarlySignals } from './commands/early-signals.js';

// The entry point is only this: a signal is edge's interruption (exit 99) from here on, while the
// rest of edge loads (on a busy machine that takes seconds, and Ctrl-C there used to kill node
// with 130). main.ts is loaded only after the handlers are in place.
catchEarlySignals();
const { main } = await import('./main.js');
process.exitCode = await main(process.argv);
