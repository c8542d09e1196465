# frozen_string_literal: true

# Runs osctl's own event commands (`osctl [-j] monitor`, `osctl [-j] ct monitor [ids]`) from an
# unchanged vpsAdminOS checkout against eventd's osctld-compatible socket.
#
#   OSCTL_SOURCE=/path/to/vpsadminos OSCTLD_SOCKET=/run/eventd/osctld.sock ruby test/osctl/osctl.rb -j monitor
#
# Loaded from the checkout, unchanged: osctl/lib/osctl/client.rb, osctl/lib/osctl/cli/event.rb,
# osctl/lib/osctl/cli/command.rb, libosctl/lib/libosctl/cli/command.rb, libosctl/lib/libosctl/
# utils/humanize.rb, libosctl/lib/libosctl/logger.rb. Not loaded, because their gems are not in
# Debian: `gli` (osctl's command-line parser: the dispatch below does what osctl/lib/osctl/cli/
# app.rb declares for these commands, and prints an error as GLI does) and `require_all` (used by
# libosctl.rb to load all of libosctl: the three files above are all these commands use).
#
# Debian bookworm's Ruby is 3.1; client.rb forwards keyword arguments anonymously (`**`), which
# Ruby 3.2 added. On Ruby < 3.2 only that is rewritten, in memory, to a named parameter.
source = ENV.fetch('OSCTL_SOURCE') { abort 'set OSCTL_SOURCE to a vpsAdminOS checkout' }
OSCTL_LIB = File.join(source, 'osctl/lib')

module OsCtl
  module Cli; end
end

module GLI
  class BadCommandLine < StandardError; end
end

# osctl's own requires (`osctl/cli/command`) resolve in the checkout; `libosctl` in stubs/.
$LOAD_PATH.unshift(OSCTL_LIB, File.join(__dir__, 'stubs'))

client_path = File.join(OSCTL_LIB, 'osctl/client.rb')
client_source = File.read(client_path)
client_source = client_source.gsub(/\*\*(?=[,)])/, '**__kwargs') if Gem::Version.new(RUBY_VERSION) < Gem::Version.new('3.2')
eval(client_source, TOPLEVEL_BINDING, client_path) # rubocop:disable Security/Eval
require 'osctl/cli/event'

# OsCtl::Client connects to its SOCKET constant (osctld's /run/osctl/osctld.sock).
OsCtl::Client.send(:remove_const, :SOCKET)
OsCtl::Client.const_set(:SOCKET, ENV.fetch('OSCTLD_SOCKET'))

# osctl/lib/osctl/cli/app.rb: global switch -j/--json; `monitor` runs Event#monitor and
# `ct monitor [ctid...]` runs Event#monitor_ct.
args = ARGV.dup
gopts = { json: false }
gopts[:json] = true if args.first == '-j' || args.first == '--json'
args.shift if gopts[:json]
action =
  if args.first == 'monitor'
    args.shift
    :monitor
  elsif args[0] == 'ct' && args[1] == 'monitor'
    args.shift(2)
    :monitor_ct
  else
    abort "osctl.rb supports: [-j] monitor | [-j] ct monitor [ctid...]; got #{ARGV.join(' ')}"
  end

begin
  OsCtl::Cli::Command.run(OsCtl::Cli::Event, action).call(gopts, {}, args)
rescue StandardError => e
  # GLI's handler for an error raised by a command: `error: <message>` on stderr, exit 1.
  warn "error: #{e.message}"
  exit 1
end
