# frozen_string_literal: true

# Makes every report osctld's `Eventd.report` call sites send (vpsfreecz/vpsadminos, osctld/lib,
# commit 7d64ad8c), through clients/ruby/eventd.rb, with the call sites' own Ruby expressions
# on small stand-ins for osctld's objects. Same order as test/fixtures/osctld-call-sites.ts.
require_relative '../../../clients/ruby/eventd'

module OsCtld
  # Stand-ins with the class names and readers the call sites use.
  class Pool
    attr_reader :name

    def initialize(name)
      @name = name
    end

    def id
      name
    end

    def pool
      self
    end
  end

  Pooled = Struct.new(:pool, :id)
  class User < Pooled; end
  class Group < Pooled; end
  class Container < Pooled; end
  class IdRange < Pooled; end
  class Repository < Pooled; end
  Netif = Struct.new(:name)
  Package = Struct.new(:id)
  State = Struct.new(:state, :init_pid)

  POOL = Pool.new('tank')
  CT = Container.new(POOL, '101')

  # Daemon::ClientHandler#handle_cmd (daemon.rb:18-38), the command's own run faked by `result`.
  def self.handle_cmd(req, result)
    commands = %i[ct_start self_healthcheck]
    cmd_class = commands.include?(req[:cmd].to_sym)
    raise "Unsupported command '#{req[:cmd]}'" unless cmd_class

    id = (@last_id = (@last_id || 0) + 1)
    Eventd.report(:management, id:, state: :run, cmd: req[:cmd], opts: req[:opts])

    ret = result
    if ret.is_a?(Hash) && ret[:status]
      Eventd.report(:management, id:, state: :done, cmd: req[:cmd], opts: req[:opts])

    else
      Eventd.report(:management, id:, state: :failed, cmd: req[:cmd], opts: req[:opts])
    end

    ret
  rescue StandardError
    Eventd.report(:management, id:, state: :failed, cmd: req[:cmd], opts: req[:opts])
    nil
  end

  # Monitor::Process#parse (monitor/process.rb): a line from lxc-monitor.
  def self.parse(line)
    return unless /'([^']+)' changed state to \[([^\]]+)\]/ =~ line

    { pool: POOL.name, ctid: ::Regexp.last_match(1), state: ::Regexp.last_match(2).downcase.to_sym }
  end

  def self.run
    ct = CT
    # Requests as osctl's client sends them (JSON parsed with symbolize_names).
    start = JSON.parse('{"cmd":"ct_start","opts":{"pool":"tank","id":"101"}}', symbolize_names: true)
    handle_cmd(start, { status: true })
    handle_cmd(start, { status: false, message: 'container is already running' })
    handle_cmd({ cmd: 'self_healthcheck', opts: nil }, { status: true })
    handle_cmd({ cmd: 'ct_bogus', opts: {} }, nil)
    handle_cmd({}, nil)

    # container/recovery.rb:42-43, and :47 (which means to announce current_state, :error when
    # osctld cannot read the state; the line itself names an undefined `change`).
    Eventd.report(:state, pool: ct.pool.name, id: ct.id, state: :aborting)
    Eventd.report(:state, pool: ct.pool.name, id: ct.id, state: :stopped)
    current_state = :error
    Eventd.report(:state, pool: ct.pool.name, id: ct.id, state: current_state)

    # monitor/process.rb:111, for every state lxc-monitor prints.
    %w[STOPPED STARTING RUNNING STOPPING ABORTING FREEZING FROZEN THAWED].each do |lxc_state|
      change = parse("'101' changed state to [#{lxc_state}]")
      Eventd.report(:state, pool: ct.pool.name, id: ct.id, state: change[:state])
    end

    # db/list.rb:59 and :71, for every DB list.
    objects = [POOL, User.new(POOL, 'myuser'), Group.new(POOL, '/default'), ct,
               IdRange.new(POOL, 'default'), Repository.new(POOL, 'default')]
    %i[add remove].each do |action|
      objects.each do |obj|
        Eventd.report(
          :db,
          object: obj.class.name.split('::').last.downcase,
          pool: obj.pool.name,
          id: obj.id,
          action:
        )
      end
    end

    # cpu_scheduler.rb:387
    ctrc = ct
    pkg = Package.new(1)
    Eventd.report(
      :ct_scheduled,
      pool: ctrc.pool.name,
      id: ctrc.id,
      cpu_package_inuse: pkg.id
    )

    # monitor/master.rb:124 and monitor/process.rb:126
    st = State.new(:running, 4242)
    Eventd.report(:ct_init_pid, pool: ct.pool.name, id: ct.id, init_pid: st.init_pid)
    init_pid = 4243
    Eventd.report(:ct_init_pid, pool: ct.pool.name, id: ct.id, init_pid:)

    # net_interface/manager.rb:41, base.rb:68, veth.rb:156, veth.rb:189, manager.rb:55
    netif = Netif.new('eth0')
    Eventd.report(
      :ct_netif,
      action: :add,
      pool: ct.pool.name,
      id: ct.id,
      name: netif.name
    )
    old_name = netif.name
    new_name = 'eth1'
    netif.name = new_name
    Eventd.report(
      :ct_netif,
      action: :rename,
      pool: ct.pool.name,
      id: ct.id,
      name: old_name,
      new_name:
    )
    name = netif.name
    veth = 'veth101'
    Eventd.report(
      :ct_netif,
      action: :up,
      pool: ct.pool.name,
      id: ct.id,
      name:,
      veth:
    )
    Eventd.report(
      :ct_netif,
      action: :down,
      pool: ct.pool.name,
      id: ct.id,
      name:
    )
    Eventd.report(
      :ct_netif,
      action: :remove,
      pool: ct.pool.name,
      id: ct.id,
      name: netif.name
    )

    # eventd/manager.rb: Manager#shutdown calls report(:osctld_shutdown)
    Eventd.report(:osctld_shutdown)

    Eventd.flush
  end
end

OsCtld.run
puts 'done'
