// One readable line per event, in the spirit of `osctl monitor`: `12:00:01.123 42 state tank:101 running`
// (time, seq, type, details). The seq is what `--since` resumes from.
import type { Event } from '../protocol/events.js';

function clock(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function details(event: Event): string {
  switch (event.type) {
    case 'management': {
      // A request osctld refused has no id, and its cmd is whatever the client sent.
      const { id, cmd, state } = event.opts;
      return `#${id ?? '-'} ${typeof cmd === 'string' ? cmd : JSON.stringify(cmd)} ${state}`;
    }
    case 'osctld_shutdown':
      // The daemon's own announcement, or a producer's (osctld stopping while eventd goes on).
      return event.opts.source === 'eventd' ? 'eventd' : '';
    case 'state':
      return `${event.opts.pool}:${event.opts.id} ${event.opts.state}`;
    case 'db':
      return `${event.opts.object} ${event.opts.pool}:${event.opts.id} ${event.opts.action}`;
    case 'ct_scheduled':
      return `${event.opts.pool}:${event.opts.id} cpu_package_inuse=${event.opts.cpu_package_inuse}`;
    case 'ct_init_pid':
      return `${event.opts.pool}:${event.opts.id} init_pid=${event.opts.init_pid}`;
    case 'ct_netif': {
      const { pool, id, name, veth, action } = event.opts;
      const renamed = event.opts.action === 'rename' ? ` -> ${event.opts.new_name}` : '';
      // osctld knows the host-side veth only when an interface comes up.
      return `${pool}:${id} ${name}${veth === undefined ? '' : ` (${veth})`} ${action}${renamed}`;
    }
    case 'ct_exit':
      return `${event.opts.pool}:${event.opts.id} ${event.opts.exit_type}`;
  }
}

export function formatEvent(event: Event): string {
  return `${clock(event.time)} ${event.seq} ${event.type} ${details(event)}`.trimEnd();
}
