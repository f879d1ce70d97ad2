#!/usr/bin/env bash
# The main job: set everything up, create a dev node home if there is none, and run a
# single-validator kontord in the foreground (Ctrl-C stops it cleanly).
#   KONTOR_HOME   node home (default ./.kontor-dev)
#   extra arguments are passed to `kontord start` (e.g. --grpc-listen 127.0.0.1:0)
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh kontord kontor kontor-bench
home=${KONTOR_HOME:-$PWD/.kontor-dev}
bin=$PWD/build
if [ ! -f "$home/config.toml" ]; then
  "$bin/node/kontord" --home "$home" init --dev
  echo
fi
cat <<MSG
== kontord is starting on $home (its gRPC and HTTP addresses are logged below)
== In another terminal, for example:
   $bin/tools/kontor --home $home --keyring test query head
   $bin/tools/kontor --home $home --keyring test tx transfer --from alice --to bob --amount 12.5 --asset USDC
   $bin/tools/kontor --home $home --keyring test query account bob --output json
   ./tools/demo.sh        # a short scenario against this node
MSG
exec "$bin/node/kontord" --home "$home" start "$@"
