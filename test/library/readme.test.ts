// The README's library example is valid TypeScript against the package's own types (it is run,
// as printed, from the packed tarball in test/packaging).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { readmeBlocks } from '../helpers/readme.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('the README library example type-checks in strict mode', { timeout: 60_000 }, () => {
  // Inside the checkout, so that `import … from 'eventd'` resolves to this package's dist types.
  const dir = mkdtempSync(join(root, 'test', 'library', '.readme-'));
  try {
    const file = join(dir, 'example.ts');
    writeFileSync(file, `${readmeBlocks('## As a library')[0]}\nexport {};\n`);
    const tsc = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--skipLibCheck',
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(tsc.stdout).toBe('');
    expect(tsc.status).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
