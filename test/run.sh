#!/usr/bin/env bash
# Runs the suite with node's test runner over TypeScript (tsx), one file at a
# time: integration tests start real servers and change host state (bridges,
# cgroups, mounts), and each cleans up in its after-hooks.
#   test/run.sh                 every *.test.ts under test/ (unit first)
#   test/run.sh PATH...         only these files or folders
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ $# -eq 0 ]; then set -- test/unit test/integration; fi
mapfile -t files < <(for p in "$@"; do [ -e "$p" ] && find "$p" -name '*.test.ts' | sort; done)
if [ ${#files[@]} -eq 0 ]; then echo "no test files under $*" >&2; exit 1; fi
exec "$root/src/bin/berth-node" --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 "${files[@]}"
