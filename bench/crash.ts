// Durability by killing, at scale: bench/crash-loop.ts's loop with many kill points (the suite
// runs 20). Prints the counts and every failure; exits 1 on any.
// Usage: npm run bench:crash [-- --rounds 1000] [-- --policy interval|always|never] [-- --power-loss]
import { parseArgs } from 'node:util';
import { crashLoop } from './crash-loop.js';
import type { FsyncPolicy } from '../src/journal/format.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '1000' },
    policy: { type: 'string', default: 'interval' },
    'power-loss': { type: 'boolean', default: false },
  },
});
const policy = values.policy as FsyncPolicy;
if (!['always', 'interval', 'never'].includes(policy)) throw new Error(`--policy: always, interval or never, not ${policy}`);
const rounds = Number(values.rounds);
const powerLoss = values['power-loss'];
const started = Date.now();
console.log(`crash loop: ${rounds} ${powerLoss ? 'simulated power losses' : 'SIGKILLs'} under load, --fsync ${policy}`);
const result = await crashLoop({
  rounds,
  policy,
  powerLoss,
  // Every 50th round's line, and anything else the loop says.
  log: (line) => {
    const round = /^round (\d+):/.exec(line);
    if (!round || Number(round[1]) % 50 === 0) console.log(line);
  },
});
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(
  `${result.kills} ${powerLoss ? 'power losses' : 'SIGKILLs'} in ${minutes} min: ${result.acked.toLocaleString('en-US')} acks and ` +
    `${result.seen.toLocaleString('en-US')} events seen, checked against ${result.journaled.toLocaleString('en-US')} journaled; ` +
    `${result.failures.length} failures`,
);
for (const failure of result.failures) console.log(`FAILED: ${failure}`);
if (result.failures.length > 0 || result.kills !== rounds) process.exitCode = 1;
