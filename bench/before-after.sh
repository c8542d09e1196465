#!/usr/bin/env bash
# Another build against this one, side by side: ingest of 1,000,000 events (S=1, P=4, with and without
# --ingest-threads 2), deliveries at 100 and 1000 subscribers, with raw and Redis in the same
# rounds; 3 rounds interleaved, medians, CPU per event by thread. Both builds run with 2 workers;
# this one also with the workers it chooses itself (`after-default`: 1 on a host of two cores).
# Usage: bash bench/before-after.sh /path/to/other/checkout/bin/eventd.js
# (e.g. `git worktree add /tmp/base f4c9eef && cd /tmp/base && npm ci`)
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=${1:?give the other build: its bin/eventd.js}
AFTER=$PWD/bin/eventd.js
out=$(mktemp)
DEFAULT_WORKERS=$(node -e 'import("./dist/daemon/config.js").then((c) => console.log(c.defaultWorkers()))')
run() { # label bin target S P events [args]; $W: workers (2)
  EVENTD_BENCH_BIN=$2 npx tsx bench/fanout.ts --target "$3" --subscribers "$4" --producers "$5" --workers "${W:-2}" --events "$6" ${7:+"--args=$7"} |
    tail -1 | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.stringify({label:process.argv[1],...JSON.parse(s)})))' "$1" >>"$out"
}
for round in 1 2 3; do
  run raw - raw 1 4 1000000
  if command -v redis-server >/dev/null; then run redis - redis 1 4 1000000; fi
  run before "$BEFORE" eventd 1 4 1000000
  run after "$AFTER" eventd 1 4 1000000
  W=$DEFAULT_WORKERS run after-default "$AFTER" eventd 1 4 1000000
  run before-it2 "$BEFORE" eventd 1 4 1000000 "--ingest-threads 2"
  run after-it2 "$AFTER" eventd 1 4 1000000 "--ingest-threads 2"
  # About 1.5 s of deliveries a run: in runs of 0.3-0.6 s (50,000 and 10,000 events) V8's helper
  # threads cost eventd a fixed 0.1 s or so, a quarter of its CPU at S = 1000, and 10 ms ticks
  # and the machine's hiccups swung the ratios by a third from one round to the next.
  for S in 100 1000; do
    N=$([ "$S" = 100 ] && echo 200000 || echo 30000)
    run raw - raw "$S" 1 "$N"
    run before "$BEFORE" eventd "$S" 1 "$N"
    run after "$AFTER" eventd "$S" 1 "$N"
    W=$DEFAULT_WORKERS run after-default "$AFTER" eventd "$S" 1 "$N"
  done
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const groups = new Map();
  for (const r of rows) {
    const key = `S=${r.subscribers} P=${r.producers} ${r.label}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  console.log("| run | ingest ev/s | deliveries/s | server CPU µs/event | by thread (µs/event) | peak RSS MiB | readers busy | readers waiting | lost |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const [key, rs] of groups) {
    const threads = {};
    for (const r of rs) for (const [name, us] of Object.entries(r.thread_cpu_us_per_event ?? {})) (threads[name] ??= []).push(us);
    const byThread = Object.entries(threads).map(([name, us]) => `${name} ${median(us)}`).join(", ");
    console.log(`| ${key} | ${Math.round(median(rs.map((r) => r.ingest_events_per_s)))} | ${Math.round(median(rs.map((r) => r.deliveries_per_s)))} | ${median(rs.map((r) => r.cpu_us_per_event ?? Math.round((r.daemon_cpu_s * 1e8) / r.events) / 100))} | ${byThread} | ${median(rs.map((r) => r.daemon_peak_rss_mib))} | ${median(rs.map((r) => r.readers_busy ?? 0))} | ${median(rs.map((r) => r.readers_waiting ?? 0))} | ${Math.max(...rs.map((r) => r.lost))} |`);
  }
' "$out"
rm -f "$out"
