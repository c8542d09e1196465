#!/usr/bin/env node
// Runs the compiled CLI (`npm ci` builds it; `npm run build` rebuilds it).
import '../dist/eventd.js';
