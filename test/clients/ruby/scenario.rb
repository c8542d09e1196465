# frozen_string_literal: true

# Drives clients/ruby/eventd.rb for test/clients/ruby.test.ts; prints one JSON line per outcome.
require_relative '../../../clients/ruby/eventd'

def out(**fields)
  $stdout.puts(JSON.generate(fields))
  $stdout.flush
end

case ARGV[0]
when 'acks'
  # report! returns the seq; report returns nil and flush waits for its answer.
  out(seq: Eventd.report!(:state, pool: 'tank', id: '101', state: :running))
  out(result: Eventd.report(:ct_exit, pool: 'tank', id: '101', exit_type: :halt))
  Eventd.flush
  out(seq: Eventd.report!(:ct_exit, pool: 'tank', id: '101', exit_type: :reboot))
when 'rejected'
  begin
    Eventd.report!(:state, pool: 'tank', id: '101', state: :runing)
  rescue Eventd::ReportRejected => e
    out(class: e.class.name, message: e.message, issues: e.issues, type: e.type.to_s)
  end
  # Without waiting, the rejection goes to on_rejected; the next report is unharmed.
  rejections = []
  client = Eventd::Client.new(on_rejected: ->(error) { rejections << error.message })
  client.report(:bogus, pool: 'tank')
  seq = client.report!(:state, pool: 'tank', id: '102', state: :stopped)
  client.flush
  out(rejections:, seq:)
when 'unreachable'
  client = Eventd::Client.new(reconnect_timeout: 0.3)
  begin
    client.report!(:state, pool: 'tank', id: '101', state: :running)
  rescue Eventd::UnreachableError => e
    out(class: e.class.name, message: e.message)
  end
when 'stream'
  # COUNT reports, one every INTERVAL ms; every 10th waits for its ack. Prints progress so the
  # test can restart the daemon in the middle.
  count = Integer(ARGV[1])
  interval = Float(ARGV[2]) / 1000
  count.times do |i|
    opts = { pool: 'tank', id: "r#{i}", state: :running }
    if (i % 10) == 9
      out(i:, seq: Eventd.report!(:state, **opts))
    else
      Eventd.report(:state, **opts)
    end
    sleep(interval)
  end
  Eventd.flush
  out(done: count)
when 'outage'
  # COUNT reports while the daemon is down (the test starts it a few seconds in), each timed:
  # report must return at once whatever the daemon's state. MAX_QUEUED bounds the queue.
  count = Integer(ARGV[1])
  client = Eventd::Client.new(max_queued: Integer(ARGV[2]))
  slowest = 0.0
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  count.times do |i|
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    client.report(:ct_init_pid, pool: 'tank', id: 'o', init_pid: i + 1)
    slowest = [slowest, Process.clock_gettime(Process::CLOCK_MONOTONIC) - t].max
  end
  out(reported: count, seconds: Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, slowest_ms: slowest * 1000,
      dropped: client.dropped)
  client.flush(timeout: 60)
  out(done: count, dropped: client.dropped, queued: client.queued)
when 'overhead'
  # What the queue costs osctld's call path while the daemon is up: microseconds spent in report,
  # over COUNT reports in bursts of 1,000 (a burst past max_queued faster than the daemon answers
  # would drop reports).
  count = Integer(ARGV[1])
  client = Eventd::Client.new
  client.report!(:state, pool: 'tank', id: 'warm', state: :running)
  elapsed = 0.0
  (count / 1000).times do |burst|
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    1000.times { |i| client.report(:ct_init_pid, pool: 'tank', id: 'h', init_pid: (burst * 1000) + i + 1) }
    elapsed += Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    client.flush(timeout: 60)
  end
  out(us_per_report: elapsed * 1e6 / count, dropped: client.dropped)
else
  abort "unknown scenario #{ARGV[0].inspect}"
end
