# frozen_string_literal: true

# eventd's producer client for Ruby: report events the way osctld calls its own Eventd.report.
#
#   require_relative 'eventd'
#   Eventd.report(:state, pool: 'tank', id: '101', state: :running)       # returns at once
#   seq = Eventd.report!(:ct_exit, pool: 'tank', id: '101', exit_type: :halt) # waits for the ack
#
# No gems: only Ruby's own json and socket. Works on Ruby 3.1 and later. See docs/osctld.md.
#
# Every report carries an ack token, so the client knows which reports the daemon has answered.
# Those it has not are kept and sent again on a new connection when the daemon goes away (a
# restart): nothing is lost, and a report the old daemon took but never answered may arrive twice.
require 'json'
require 'socket'

module Eventd
  # Everything this client raises.
  class Error < StandardError; end

  # The daemon could not be reached within `reconnect_timeout`.
  class UnreachableError < Error; end

  # The daemon did not answer a report! within `ack_timeout`.
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

  # One connection to the daemon's report socket; safe to share between threads.
  class Client
    # Reports sent and not yet answered past this many: report waits for answers first.
    MAX_UNANSWERED = 10_000

    Unanswered = Struct.new(:line, :type, :opts, :waited)

    attr_reader :socket_path

    # on_rejected: called with a ReportRejected for a report made with #report (which does not
    # wait); by default a warning on $stderr. report! raises it instead.
    def initialize(socket: Eventd.default_socket, reconnect_timeout: 10, ack_timeout: 10, on_rejected: nil)
      @socket_path = socket
      @reconnect_timeout = reconnect_timeout
      @ack_timeout = ack_timeout
      @on_rejected = on_rejected || ->(error) { warn("eventd: #{error.message}") }
      @mutex = Mutex.new
      @sock = nil
      @buffer = +''
      @next_ack = 0
      @unanswered = {} # ack => Unanswered, in the order sent
      @answers = {}    # ack => seq or ReportRejected, for report! callers
    end

    # Sends a report and returns nil without waiting for the daemon's answer. A rejection is
    # passed to on_rejected when its answer is read (at a later call, or at #flush).
    def report(type, **opts)
      @mutex.synchronize do
        submit(type, opts, waited: false)
        read_answers(0)
        read_answers(nil) while @unanswered.size > MAX_UNANSWERED
      end
      nil
    end

    # Sends a report and waits for it to be published: returns its seq, or raises
    # ReportRejected, UnreachableError or TimeoutError.
    def report!(type, **opts)
      @mutex.synchronize do
        ack = submit(type, opts, waited: true)
        deadline = now + @ack_timeout
        until @answers.key?(ack)
          left = deadline - now
          raise TimeoutError, "eventd did not answer within #{@ack_timeout} s (#{@socket_path})" if left <= 0

          read_answers(left)
        end
        answer = @answers.delete(ack)
        raise answer if answer.is_a?(ReportRejected)

        answer
      end
    end

    # Waits until the daemon has answered every report sent so far.
    def flush(timeout: @ack_timeout)
      @mutex.synchronize do
        deadline = now + timeout
        until @unanswered.empty?
          left = deadline - now
          raise TimeoutError, "eventd did not answer #{@unanswered.size} reports within #{timeout} s" if left <= 0

          read_answers(left)
        end
      end
      nil
    end

    def close
      @mutex.synchronize { disconnect }
      nil
    end

    private

    def submit(type, opts, waited:)
      ack = (@next_ack += 1)
      line = "#{JSON.generate({ type: type, opts: opts, ack: ack })}\n"
      @unanswered[ack] = Unanswered.new(line, type, opts, waited)
      if @sock
        begin
          @sock.write(line)
        rescue SystemCallError, IOError
          reconnect
        end
      else
        reconnect
      end
      ack
    end

    # Reads and handles the answers that arrive within `timeout` seconds (0: only those already
    # here; nil: wait for at least one chunk).
    def read_answers(timeout)
      return reconnect if @sock.nil?

      chunk = @sock.read_nonblock(65_536, exception: false)
      if chunk == :wait_readable
        return if timeout&.zero?
        return unless @sock.wait_readable(timeout)

        chunk = @sock.read_nonblock(65_536, exception: false)
        return if chunk == :wait_readable
      end
      # The daemon closed the connection (it is stopping): the next one gets what is unanswered.
      return reconnect if chunk.nil?

      @buffer << chunk
      while (newline = @buffer.index("\n"))
        handle_answer(JSON.parse(@buffer.slice!(0, newline + 1)))
      end
    rescue SystemCallError, IOError
      reconnect
    end

    def handle_answer(answer)
      report = @unanswered.delete(answer['ack'])
      return unless report # not ours (an ack we never sent cannot come back)

      if answer['status'] == true
        @answers[answer['ack']] = answer['seq'] if report.waited
        return
      end
      error = ReportRejected.new(answer['message'], type: report.type, opts: report.opts, issues: answer['issues'] || [])
      if report.waited
        @answers[answer['ack']] = error
      else
        @on_rejected.call(error)
      end
    end

    # Connects (retrying while the daemon restarts) and sends every unanswered report again, in order.
    def reconnect
      salvage_answers
      disconnect
      deadline = now + @reconnect_timeout
      delay = 0.02
      begin
        @sock = UNIXSocket.new(@socket_path)
        @sock.write(@unanswered.each_value.map(&:line).join) unless @unanswered.empty?
      rescue SystemCallError, IOError => e
        disconnect
        if now + delay > deadline
          raise UnreachableError, "eventd is not reachable at #{@socket_path}: #{e.message} " \
                                  "(tried for #{@reconnect_timeout} s; is the daemon running?)"
        end
        sleep(delay)
        delay = [delay * 2, 0.5].min
        retry
      end
    end

    # A daemon that stops answers what it took before closing: read those answers, so that only
    # reports it never answered are sent again.
    def salvage_answers
      return if @sock.nil?

      loop do
        chunk = @sock.read_nonblock(65_536, exception: false)
        break if chunk.nil? || chunk == :wait_readable

        @buffer << chunk
      end
      while (newline = @buffer.index("\n"))
        handle_answer(JSON.parse(@buffer.slice!(0, newline + 1)))
      end
    rescue SystemCallError, IOError, JSON::ParserError
      nil
    end

    def disconnect
      @sock&.close
    rescue IOError
      nil
    ensure
      @sock = nil
      @buffer = +''
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end

  class << self
    # The process's shared client (a new one after fork: a child must not share the parent's socket).
    def client
      @client_mutex.synchronize do
        if @client.nil? || @client_pid != Process.pid
          @client = Client.new
          @client_pid = Process.pid
        end
        @client
      end
    end

    # osctld's call: Eventd.report(:state, pool: 'tank', id: '101', state: :running).
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
