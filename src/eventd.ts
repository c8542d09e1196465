// Entry point: `bin/eventd.js` runs the compiled copy; `npm run dev` runs this one under tsx
// (as `node --import tsx`, which worker threads inherit, unlike the `tsx` command).
// First: the SIGUSR1 handler must exist before anything else runs (see cli/signals.ts).
import './cli/signals.js';
import { main } from './cli/main.js';

await main();
