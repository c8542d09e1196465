// The shipped alerting rules, as Prometheus reads them: promtool's syntax check and its rule
// unit tests (alerts.test.yml: series in, alerts out).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('docs/prometheus/eventd-alerts.yml', () => {
  it('passes promtool check rules and its unit tests', () => {
    const check = spawnSync('promtool', ['check', 'rules', '../../docs/prometheus/eventd-alerts.yml'], { cwd: here, encoding: 'utf8' });
    expect(check.stdout).toContain('SUCCESS: 8 rules found');
    expect(check.status).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: here, encoding: 'utf8' });
    expect(`${test.stdout}${test.stderr}`).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });
});
