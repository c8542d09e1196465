# frozen_string_literal: true

# eventd's producer client for Ruby: report events the way osctld calls its own Eventd.report.
#
#   require_relative 'eventd'
#   Eventd.report(:state, pool: 'tank', id: '101', state: :running)       # returns at once, always
#   seq = Eventd.report!(:ct_exit, pool: 'tank', id: '101', exit_type: :halt) # waits for the ack
#
# No gems: only Ruby's own json and socket. Works on Ruby 3.1 and later. See docs/osctld.md.
#
# `report` never blocks its caller, whatever the daemon's state (osctld calls it from inside
# container operations): each report goes into a bounded in-process queue, and a background
# thread delivers the queue, reconnecting with backoff while the daemon is down or restarting,
# and sending again every report the daemon has not acknowledged. Delivery is at least once while
# the queue holds: a report the old daemon took but never acknowledged may arrive twice. Past
# `max_queued` reports waiting, the oldest are dropped and counted (`dropped`), with one warning
# per outage. `report!` and `flush` wait, and raise when the daemon does not answer in time.
require 'json'
require 'socket'

module Eventd
  # Everything this client raises.
  class Error < StandardError; end

  # The daemon could not be reached while report! or flush waited.
  class UnreachableError < Error; end

  # The daemon did not answer in time (it is reachable, but slow or stuck).
  class TimeoutError < Error; end

  # The daemon refused a report; the message is its own sentence, `issues` one entry per problem.
  class ReportRejected < Error
    attr_reader :type, :opts, :issues

    def initialize(message, type:, opts:, issues:)
      super(message)
      @type = type
      @opts = opts
      @issues = issues
    end
  end

  # $EVENTD_REPORT_SOCKET, else the system daemon's socket.
  def self.default_socket
    ENV.fetch('EVENTD_REPORT_SOCKET', '/run/eventd/report.sock')
  end

  # A queue of reports and the thread that delivers it; safe to share between threads.
  class Client
    # Reports waiting for the daemon's answer, at most; past it the oldest are dropped.
    MAX_QUEUED = 10_000
    # Waits between attempts to reach the daemon: doubling from the first to the last.
    RETRY_DELAYS = [0.02, 1.0].freeze

    Entry = Struct.new(:line, :type, :opts, :waited)

    attr_reader :socket_path

    # on_rejected: called (on the delivery thread) with a ReportRejected for a report made with
    # #report; by default a warning on $stderr. report! raises it instead.
    # on_warning: called once per outage ("not reachable; queueing") and when reports are dropped;
    # by default a warning on $stderr.
    def initialize(socket: Eventd.default_socket, reconnect_timeout: 10, ack_timeout: 10, max_queued: MAX_QUEUED,
                   on_rejected: nil, on_warning: nil)
      @socket_path = socket
      @reconnect_timeout = reconnect_timeout
      @ack_timeout = ack_timeout
      @max_queued = max_queued
      @on_rejected = on_rejected || ->(error) { warn("eventd: #{error.message}") }
      @on_warning = on_warning || ->(message) { warn("eventd: #{message}") }
      @mutex = Mutex.new
      @answered = ConditionVariable.new # signalled whenever answers arrive or the connection changes
      @wanted = ConditionVariable.new   # signalled when there is something to deliver
      @resting = ConditionVariable.new  # waited on between attempts to reach the daemon (close wakes it)
      @sock = nil
      @outbuf = +''                     # bytes for @sock not written yet (it was full)
      @wake_r, @wake_w = IO.pipe        # wakes the delivery thread when @outbuf waits
      @next_ack = 0
      @entries = {}                     # ack => Entry, unanswered, in the order sent
      @answers = {}                     # ack => seq or ReportRejected, for report! callers
      @dropped = 0
      @outage = nil                     # why the daemon is not reachable, while it is not
      @closed = false
      @thread = nil
      @buffer = +''
      @callbacks = []                   # to run once the lock is released
      @drop_warned = false              # a drop was said since the last outage began
    end

    # Reports dropped because the queue was full.
    def dropped
      @mutex.synchronize { @dropped }
    end

    # Reports waiting for the daemon's answer.
    def queued
      @mutex.synchronize { @entries.size }
    end

    # Queues a report and returns nil at once, whatever the daemon's state; it is delivered in the
    # background. A rejection is passed to on_rejected when the daemon's answer arrives.
    def report(type, **opts)
      locked { submit(type, opts, waited: false) }
      nil
    end

    # Queues a report and waits for it to be published: returns its seq, or raises ReportRejected,
    # UnreachableError (the daemon was not reachable for reconnect_timeout) or TimeoutError. A
    # report that times out stays queued, and is delivered when the daemon is back.
    def report!(type, **opts)
      answer = locked do
        ack = submit(type, opts, waited: true)
        started = now
        until @answers.key?(ack)
          waited = now - started
          if (@outage && waited >= @reconnect_timeout) || (!@outage && waited >= @ack_timeout)
            @entries[ack]&.waited = false # no one waits for it now; it still goes
            if @outage
              raise UnreachableError, "eventd is not reachable at #{@socket_path}: #{@outage} " \
                                      "(tried for #{@reconnect_timeout} s; is the daemon running? the report stays queued)"
            end
            raise TimeoutError, "eventd did not answer within #{@ack_timeout} s (#{@socket_path})"
          end
          @answered.wait(@mutex, 0.05)
        end
        @answers.delete(ack)
      end
      raise answer if answer.is_a?(ReportRejected)

      answer
    end

    # Waits until the daemon has answered every report queued so far.
    def flush(timeout: @ack_timeout)
      locked do
        deadline = now + timeout
        until @entries.empty?
          if now >= deadline
            why = @outage ? "eventd is not reachable at #{@socket_path}: #{@outage}" : 'eventd did not answer them'
            raise(@outage ? UnreachableError : TimeoutError, "#{@entries.size} reports unanswered after #{timeout} s: #{why}")
          end
          @answered.wait(@mutex, 0.05)
        end
      end
      nil
    end

    # Stops the delivery thread and closes the connection; what is still queued is dropped
    # (flush first to wait for it).
    def close
      thread = @mutex.synchronize do
        @closed = true
        @wanted.signal
        @resting.signal
        wake
        @thread
      end
      thread&.join(1)
      @mutex.synchronize { disconnect }
      nil
    end

    private

    # Runs the block under the lock, then the callbacks it left (on_rejected, on_warning): they may
    # call this client again, which they could not while it holds the lock.
    def locked(&)
      result = @mutex.synchronize(&)
      run_callbacks
      result
    end

    def run_callbacks
      callbacks = @mutex.synchronize { @callbacks.slice!(0..) }
      callbacks.each(&:call)
    end

    def notify(&callback)
      @callbacks << callback
    end

    def submit(type, opts, waited:)
      raise Error, 'this Eventd::Client is closed' if @closed

      start_thread
      ack = (@next_ack += 1)
      line = "#{JSON.generate({ type: type, opts: opts, ack: ack })}\n"
      @entries[ack] = Entry.new(line, type, opts, waited)
      drop_oldest while @entries.size > @max_queued
      if @sock
        @outbuf << line
        write_out
      else
        @wanted.signal
      end
      ack
    end

    def drop_oldest
      ack, = @entries.first
      @entries.delete(ack)
      @dropped += 1
      # Said once per outage (and once while the daemon is up but cannot keep up).
      return if @drop_warned

      @drop_warned = true
      message = "the report queue is full (#{@max_queued}); dropping the oldest reports (#{@dropped} so far, see #dropped)"
      notify { @on_warning.call(message) }
    end

    # Writes what it can of @outbuf without blocking; the delivery thread writes the rest.
    def write_out
      return if @outbuf.empty?

      written = @sock.write_nonblock(@outbuf, exception: false)
      if written == :wait_writable
        wake
      else
        @outbuf = @outbuf.byteslice(written..) || +''
        wake unless @outbuf.empty?
      end
    rescue SystemCallError, IOError
      disconnect
      @wanted.signal
    end

    def wake
      @wake_w.write_nonblock('.', exception: false)
    end

    def start_thread
      return if @thread&.alive?

      @thread = Thread.new { deliver }
      @thread.name = 'eventd-report' if @thread.respond_to?(:name=)
      # The process may exit while reports wait (flush to wait for them).
      @thread.report_on_exception = true
    end

    # The delivery thread: keeps a connection while there is something to deliver, sends what
    # waits, reads the answers.
    def deliver
      delay = RETRY_DELAYS.first
      loop do
        sock = @mutex.synchronize do
          @wanted.wait(@mutex) while @sock.nil? && @entries.empty? && !@closed
          break :closed if @closed

          if @sock.nil?
            begin
              connect
              delay = RETRY_DELAYS.first
            rescue SystemCallError, IOError => e
              outage_began(e.message) unless @outage
              @answered.broadcast
              @resting.wait(@mutex, delay)
              delay = [delay * 2, RETRY_DELAYS.last].min
            end
          end
          @sock
        end
        return if sock == :closed

        run_callbacks
        exchange(sock) if sock
        run_callbacks
      end
    end

    def outage_began(why)
      @outage = why
      @drop_warned = false
      message = "the daemon is not reachable at #{@socket_path} (#{why}); queueing reports until it is back"
      notify { @on_warning.call(message) }
    end

    # Connects and sends every unanswered report again, in order.
    def connect
      @sock = UNIXSocket.new(@socket_path)
      @outage = nil
      @buffer = +''
      @outbuf = @entries.each_value.map(&:line).join
      write_out
    end

    # Waits for answers (or for room to write) and handles them.
    def exchange(sock)
      writing = @mutex.synchronize { !@outbuf.empty? && @sock.equal?(sock) }
      readable, writable, = IO.select([sock, @wake_r], writing ? [sock] : nil, nil, 1)
      @mutex.synchronize do
        @wake_r.read_nonblock(4096, exception: false) if readable&.include?(@wake_r)
        return unless @sock.equal?(sock)

        write_out if writable&.include?(sock)
        read_answers if readable&.include?(sock)
      end
    end

    def read_answers
      chunk = @sock.read_nonblock(65_536, exception: false)
      return if chunk == :wait_readable
      # The daemon closed the connection (it is stopping): the next one gets what is unanswered.
      return disconnect if chunk.nil?

      @buffer << chunk
      while (newline = @buffer.index("\n"))
        handle_answer(JSON.parse(@buffer.slice!(0, newline + 1)))
      end
      @answered.broadcast
    rescue SystemCallError, IOError, JSON::ParserError
      disconnect
    end

    def handle_answer(answer)
      report = @entries.delete(answer['ack'])
      return unless report # not ours (an ack we never sent cannot come back)

      if answer['status'] == true
        @answers[answer['ack']] = answer['seq'] if report.waited
        return
      end
      error = ReportRejected.new(answer['message'], type: report.type, opts: report.opts, issues: answer['issues'] || [])
      if report.waited
        @answers[answer['ack']] = error
      else
        notify { @on_rejected.call(error) }
      end
    end

    def disconnect
      @sock&.close
    rescue IOError
      nil
    ensure
      @sock = nil
      @buffer = +''
      @outbuf = +''
      @answered.broadcast
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end

  class << self
    # The process's shared client (a new one after fork: a child must not share the parent's
    # socket, and the delivery thread does not survive a fork).
    def client
      @client_mutex.synchronize do
        if @client.nil? || @client_pid != Process.pid
          @client = Client.new
          @client_pid = Process.pid
        end
        @client
      end
    end

    # osctld's call: Eventd.report(:state, pool: 'tank', id: '101', state: :running). Never blocks.
    def report(type, **opts)
      client.report(type, **opts)
    end

    def report!(type, **opts)
      client.report!(type, **opts)
    end

    def flush(**kwargs)
      client.flush(**kwargs)
    end
  end

  @client_mutex = Mutex.new
end
