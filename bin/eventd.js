#!/usr/bin/env node
// Runs the compiled CLI (`npm ci` builds it; `npm run build` rebuilds it).
import { main } from '../dist/cli/main.js';

await main();
