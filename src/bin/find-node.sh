# Sourced by src/bin/berth and src/bin/berth-node (sh, builtins only: this runs
# before every `berth run`). Sets berth_node to the Node.js berth runs on, the
# first of:
#   1. $BERTH_NODE                         an explicit choice
#   2. ${BERTH_CACHE:-$HOME/.cache/berth}/node/current/bin/node
#                                          the pinned Node 24 that .ci/setup.sh
#                                          installs when the machine's is older
#   3. node on PATH
# berth.js itself refuses a Node older than 24 with a message naming these.
berth_node=${BERTH_NODE:-}
if [ -z "$berth_node" ]; then
  berth_node=${BERTH_CACHE:-${HOME:-/root}/.cache/berth}/node/current/bin/node
  [ -x "$berth_node" ] || berth_node=node
fi
