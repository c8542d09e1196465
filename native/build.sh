#!/bin/sh
# npm's install script: builds the native helper with node-gyp. Against the headers of the node
# that runs it where they lie beside it (Debian's nodejs, nodejs.org's tarballs): the exact
# version, and no download (node-gyp otherwise fetches them, which an offline host cannot).
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix=$(dirname "$(dirname "$(command -v node)")")
  if [ -f "$prefix/include/node/node.h" ] && [ -f "$prefix/include/node/common.gypi" ]; then
    npm_config_nodedir=$prefix
    export npm_config_nodedir
  fi
fi
exec node-gyp rebuild
