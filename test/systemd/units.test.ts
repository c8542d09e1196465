// The systemd units as systemd itself reads them, and socket activation by systemd's own tool.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { EVENTD_BIN, sampleReports } from '../helpers/daemon.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventd-systemd-'));
  dirs.push(dir);
  return dir;
}

/**
 * The daemon under systemd's own socket activator, listening on `sockets` (named by their keys);
 * its --*-socket options point elsewhere, so only the passed sockets can serve. `out` is its output.
 */
function socketActivated(dir: string, sockets: Record<string, string>) {
  const activator = spawn(
    'systemd-socket-activate',
    [
      ...Object.values(sockets).flatMap((path) => ['-l', path]),
      `--fdname=${Object.keys(sockets).join(':')}`,
      process.execPath,
      EVENTD_BIN,
      'serve',
      '--no-journal',
      '--report-socket',
      join(dir, 'x.sock'),
      '--events-socket',
      join(dir, 'y.sock'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  activator.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  activator.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return {
    get out() {
      return out;
    },
    async stop() {
      activator.kill('SIGTERM');
      await new Promise((resolve) => activator.once('exit', resolve));
    },
  };
}

const SOCKET_UNITS = ['eventd.socket', 'eventd-events.socket', 'eventd-osctld.socket'];
const unit = (name: string) => readFileSync(new URL(`../../systemd/${name}`, import.meta.url), 'utf8');

describe('systemd units', () => {
  it('pass systemd-analyze verify', () => {
    const dir = tempDir();
    // verify checks that ExecStart exists: point it at this checkout's binary.
    writeFileSync(
      join(dir, 'eventd.service'),
      unit('eventd.service').replace('ExecStart=/usr/bin/eventd', `ExecStart=${process.execPath} ${EVENTD_BIN}`),
    );
    for (const socket of SOCKET_UNITS) writeFileSync(join(dir, socket), unit(socket));
    writeFileSync(
      join(dir, 'eventd-forward.service'),
      unit('eventd-forward.service')
        .replace('ExecStart=/usr/bin/eventd', `ExecStart=${process.execPath} ${EVENTD_BIN}`)
        .replace('/etc/eventd/forward.env', join(dir, 'forward.env')),
    );
    writeFileSync(join(dir, 'forward.env'), 'EVENTD_NATS_URL=nats://127.0.0.1:4222\n');
    for (const name of ['eventd-metrics.service', 'eventd-metrics.timer']) writeFileSync(join(dir, name), unit(name));
    const units = [...SOCKET_UNITS, 'eventd.service', 'eventd-forward.service', 'eventd-metrics.timer', 'eventd-metrics.service'].map(
      (name) => join(dir, name),
    );
    const result = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('name the sockets as the daemon expects, one named socket per unit, and harden the service', () => {
    // FileDescriptorName= names every socket of its unit (systemd.socket(5)): one socket per unit.
    const named = { 'eventd.socket': 'report', 'eventd-events.socket': 'events', 'eventd-osctld.socket': 'osctld' };
    for (const [name, fdName] of Object.entries(named)) {
      const socket = unit(name);
      expect(socket.match(/^ListenStream=/gm)).toHaveLength(1);
      expect(socket).toMatch(new RegExp(`^ListenStream=/run/eventd/${fdName}\\.sock\nFileDescriptorName=${fdName}$`, 'm'));
      expect(socket).toMatch(/^SocketMode=0660$/m);
      if (name !== 'eventd.socket') expect(socket).toMatch(/^Service=eventd\.service$/m);
    }
    expect(unit('eventd.socket')).toMatch(/^Also=eventd-events\.socket$/m);
    const service = unit('eventd.service');
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'RestrictAddressFamilies=AF_UNIX',
      'RuntimeDirectory=eventd',
      'SystemCallFilter=@system-service',
      'Restart=on-failure',
      'Type=exec',
    ]) {
      expect(service).toContain(`\n${line}\n`);
    }
    expect(service).toMatch(/^MemoryMax=\d+M$/m);
    const forward = unit('eventd-forward.service');
    for (const line of [
      'After=eventd-events.socket network-online.target',
      'Restart=always',
      'ExecStart=/usr/bin/eventd forward $EVENTD_FORWARD_ARGS',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
    ]) {
      expect(forward).toContain(`\n${line}\n`);
    }
  });

  it('serves under systemd-socket-activate: clients connect before the daemon is up and nothing is lost', async () => {
    const dir = tempDir();
    const report = join(dir, 'report.sock');
    const events = join(dir, 'events.sock');
    const activator = socketActivated(dir, { report, events });
    try {
      await expect.poll(() => activator.out.includes('Listening on'), { timeout: 10_000 }).toBe(true);
      // The daemon starts on this first connection; the kernel queues it meanwhile.
      const sub = await LineClient.connect(events);
      sub.sendJson({ cmd: 'event_subscribe', opts: { type: 'ct_netif' } });
      expect(await sub.nextJson()).toEqual({ status: true, response: 'subscribed', run: expect.any(String) });
      const producer = await LineClient.connect(report);
      producer.sendJson({ ...sampleReports.ct_netif, ack: 'sa' });
      expect(await producer.nextJson()).toEqual({ status: true, ack: 'sa', seq: 1 });
      expect(await sub.nextJson()).toMatchObject({ seq: 1, ...sampleReports.ct_netif });
      const ready = JSON.parse(activator.out.split('\n').find((line) => line.includes('eventd ready'))!);
      // The real paths of the sockets systemd passed (not the --*-socket options), with the hints.
      expect(ready).toMatchObject({
        socket_activated: true,
        report_socket: report,
        events_socket: events,
        subscribe: `socat -u UNIX-CONNECT:${events} STDOUT`,
        report: expect.stringMatching(new RegExp(`^echo '\\{.*"ack":1\\}' \\| socat - UNIX-CONNECT:${report}$`)),
      });
    } finally {
      await activator.stop();
    }
  });

  it('serves the osctld-compatible socket when systemd passes one named "osctld"', async () => {
    const dir = tempDir();
    const sockets = ['report', 'events', 'osctld'].map((name) => join(dir, `${name}.sock`));
    const activator = socketActivated(dir, { report: sockets[0]!, events: sockets[1]!, osctld: sockets[2]! });
    try {
      await expect.poll(() => activator.out.split('Listening on').length - 1, { timeout: 10_000 }).toBe(3);
      const osctl = await LineClient.connect(sockets[2]!);
      expect(await osctl.nextJson()).toHaveProperty('version');
      osctl.sendJson({ cmd: 'event_subscribe', opts: { type: 'ct_netif' } });
      expect(await osctl.nextJson()).toEqual({ status: true, response: 'subscribed' });
      const producer = await LineClient.connect(sockets[0]!);
      producer.sendJson({ ...sampleReports.ct_netif, ack: 1 });
      expect(await producer.nextJson()).toEqual({ status: true, ack: 1, seq: 1 });
      expect(await osctl.nextJson()).toEqual({ status: true, response: sampleReports.ct_netif });
      const ready = JSON.parse(activator.out.split('\n').find((line) => line.includes('eventd ready'))!);
      expect(ready).toMatchObject({ socket_activated: true, osctld_socket: sockets[2] });
    } finally {
      await activator.stop();
    }
  });
});
