// The README's code, as printed: tests run it rather than a copy that could drift.
import { readFileSync } from 'node:fs';

const README = new URL('../../README.md', import.meta.url);

/** The ```js blocks of one README section (from its `## ` heading to the next). */
export function readmeBlocks(heading: string): string[] {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README has no section ${heading}`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!);
}
