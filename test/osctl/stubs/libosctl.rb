# frozen_string_literal: true

# Stands in for libosctl.rb, which loads all of libosctl with the `require_all` gem (not in
# Debian): loads, unchanged from the checkout, the three libosctl files osctl's event commands use.
module OsCtl
  module Lib
    module Cli; end
    module Utils; end
  end
end

%w[libosctl/cli/command.rb libosctl/utils/humanize.rb libosctl/logger.rb].each do |file|
  load File.join(ENV.fetch('OSCTL_SOURCE'), 'libosctl/lib', file)
end
