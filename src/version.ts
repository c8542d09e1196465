// eventd's own version, from package.json (the same relative path from src/ and dist/).
import { createRequire } from 'node:module';

export const EVENTD_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
