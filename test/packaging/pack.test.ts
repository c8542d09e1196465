// The published package: `npm pack`, installed into an empty project, runs from compiled JS.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { readmeBlocks } from '../helpers/readme.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'eventd-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('packs, installs from the tarball in a clean directory, and runs', { timeout: 180_000 }, () => {
  execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, stdio: 'pipe' });
  const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'))!;
  const files = execFileSync('tar', ['tzf', join(dir, tarball)], { encoding: 'utf8' }).split('\n');
  expect(files).toContain('package/dist/eventd.js');
  expect(files).toContain('package/native/eventd_native.c');
  // The licence the package names ships with it (npm includes LICENSE on its own).
  expect(files).toContain('package/LICENSE');
  // Compiled code only: no sources, tests or a prebuilt binary for this machine.
  expect(files.filter((file) => /^package\/(src|test|build)\//.test(file))).toEqual([]);

  const project = join(dir, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), '{"name":"try-eventd","version":"1.0.0","private":true}');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: project, stdio: 'pipe' });

  const help = spawnSync(join(project, 'node_modules', '.bin', 'eventd'), ['--help'], { encoding: 'utf8' });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^Usage: eventd \[options\] \[command\]/);
  // The native helper was built on install and the library loads from the package name.
  const library = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "const e = await import('eventd'); console.log(typeof e.EventdServer, e.EVENT_TYPES.length)"],
    {
      cwd: project,
      encoding: 'utf8',
    },
  );
  expect(library.stdout.trim()).toBe('function 8');
  // The fleet side is a subpath of its own, with the NATS client installed as a dependency.
  const fleet = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const f = await import('eventd/fleet'); console.log(typeof f.Forwarder, typeof f.watchFleet, f.hostToken('a.b'))",
    ],
    {
      cwd: project,
      encoding: 'utf8',
    },
  );
  expect(fleet.stdout.trim()).toBe('function function a%2Eb');
  const schema = spawnSync(join(project, 'node_modules', '.bin', 'eventd'), ['schema', 'ct_exit'], { encoding: 'utf8' });
  expect(JSON.parse(schema.stdout).properties.type).toEqual({ type: 'string', const: 'ct_exit' });

  // The README's library example, exactly as printed, saved as the README says: it runs,
  // prints what its comments say, and finishes.
  const blocks = readmeBlocks('## As a library');
  expect(blocks).toHaveLength(1);
  writeFileSync(join(project, 'example.mjs'), blocks[0]!);
  const example = spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8', timeout: 30_000 });
  expect(example.stderr).toBe('');
  expect(example.status).toBe(0);
  const promised = [...blocks[0]!.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((match) => match[1]);
  expect(promised).toEqual(['1 101 running', '2 halt']);
  expect(example.stdout).toBe(`${promised.join('\n')}\n`);

  // Without the native helper (an install whose script did not run), clients still work and the
  // daemon refuses to start in one line that says how to build it.
  rmSync(join(project, 'node_modules', 'eventd', 'build'), { recursive: true, force: true });
  const bin = join(project, 'node_modules', '.bin', 'eventd');
  const stats = spawnSync(bin, ['stats', '--events-socket', join(dir, 'none.sock')], { encoding: 'utf8' });
  expect(stats.status).toBe(3);
  expect(stats.stderr).toMatch(/^eventd: the daemon is not running: there is no socket at \S+none\.sock/);
  // --no-journal: run as root, the default journal directory would be /var/lib/eventd.
  const serve = spawnSync(bin, ['serve', '--no-journal', '--report-socket', join(dir, 'r.sock'), '--events-socket', join(dir, 'e.sock')], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(serve.status).toBe(1);
  expect(serve.stderr).toMatch(
    /^eventd: eventd's native helper is not built \(.*\); run `npm ci` or `npm run install` in the package directory\n$/,
  );
});
