#!/usr/bin/env bash
# Runs the suite with node's test runner over TypeScript (tsx), in three phases:
#   1. unit files, several at a time (BERTH_TEST_JOBS): pure code, fixture trees, temp
#      dirs and loopback ports, nothing shared between files;
#   2. integration files, several at a time (BERTH_TEST_JOBS), longest first: each one's
#      host state is its own (the harness gives every agent or runtime its own
#      state root, bridge, leased subnet, cgroup names, free ports, Consul
#      service names); the state agents share (berth's iptables chains, the
#      /berth cgroup parent) is removed once, at the end, not by each file;
#   3. the integration files in SERIAL below, one at a time: they assert
#      timings, drive load, or remove host state other agents use.
# The files in EARLY (long, mostly waiting) start in the background beside
# phase 1 and report after phase 2. Every phase runs even when an earlier one failed; the exit code says whether
# any failed. One Consul dev agent is shared by the files of a run (started by
# the first that asks, test/harness/consul.ts) and stopped here at the end.
#   test/run.sh                 every *.test.ts under test/ (unit first)
#   test/run.sh PATH...         only these files or folders (same phases)
#   BERTH_TEST_JOBS=N           files at a time in phases 1 and 2 (default: cores + 2, at
#                               least 3; 1 runs every file one at a time, as before issue 13)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ $# -eq 0 ]; then set -- test/unit test/integration; fi
# Paths relative to the repository (./test/unit or /…/test/unit name the same files as test/unit).
mapfile -t files < <(for p in "$@"; do [ -e "$p" ] && find "$p" -name '*.test.ts' | sed -e "s#^$root/##" -e 's#^\./##' | sort; done)
if [ ${#files[@]} -eq 0 ]; then echo "no test files under $*" >&2; exit 1; fi

# Run alone: timing assertions (a duration compared with a bound), load
# generators, or host state another agent relies on.
SERIAL=(
  test/integration/logs-e2e/slow-receiver.test.ts # shipping vs no shipping, < 2x + 1 s
  test/integration/discovery/consul.test.ts       # writes < 1 s while Consul is slow; TTL heartbeats
  test/integration/haproxy/prestop.test.ts        # drain waits 0.7..3 s
  test/integration/haproxy/scale.test.ts          # wrk load while scaling, zero errors
  test/integration/network/bridge.test.ts         # destroy() drops berth's shared iptables chains once unused
  test/integration/exec/executor.test.ts          # exec answers within 5 s
  test/integration/web/flood.test.ts              # 5,000 log lines/s into Chromium, no long task > 100 ms
  test/integration/web/observed.test.ts           # two agents, one in --mode both observing all of /berth: beside web/projects.test.ts its rollout stalled (3 of 5 runs; cause not found)
  test/integration/deploy/rollout.test.ts         # 250 req/s through rollouts, zero failed requests
  test/integration/deploy/rollout-crash.test.ts   # 200 req/s while the agent is killed mid-rollout, zero failed
)
# Long and mostly idle (its receiver is down for 60 s): started beside the unit
# phase, in its own node --test process, its report printed after phase 2.
EARLY=(
  test/integration/logs-e2e/outage.test.ts
  test/integration/dashboards/panels.test.ts
)
# Started first in phase 2 so the long ones overlap (seconds in the baseline run).
LONG=(
  test/integration/logs-e2e/outage.test.ts       # 75, mostly the 60 s outage
  test/integration/logs-e2e/rotation.test.ts     # 20-70
  test/integration/logs-e2e/rotation-outage.test.ts # 75, two receiver outages (10 s, 25 s)
  test/integration/logs-e2e/rotation-kill9.test.ts  # 33
  test/integration/cli/containers.test.ts        # 35
  test/integration/web/projects.test.ts          # 60, a rollout, a scale and a rollback watched in Chromium
  test/integration/web/dashboard.test.ts         # 30
  test/integration/api/streams.test.ts           # 23, 12 of it the slow client's stall
  test/integration/api/dashboard.test.ts         # 23, two agents (plain and TLS)
  test/integration/dashboards/panels.test.ts     # 25
  test/integration/cli/discovery-lb.test.ts      # 21
  test/integration/logs-e2e/secure-forward.test.ts # 18
  test/integration/containers/state-perms.test.ts  # 17
  test/integration/logs-e2e/kill9.test.ts        # 16
  test/integration/cli/images-volumes.test.ts    # 14
  test/integration/cli/run-backpressure.test.ts  # 12
  test/integration/metrics/cadvisor-parity.test.ts # 17, mostly waiting for both exporters and the window
  test/integration/logs/pipeline.test.ts         # 10
  test/integration/deploy/up.test.ts             # 30
  test/integration/deploy/projects-dir.test.ts   # 30
  test/integration/main/npm-start.test.ts        # 60, npm start: set-up, agent, demo up
  test/integration/deploy/verbs.test.ts          # 40
  test/integration/deploy/progress.test.ts       # 37, two rollouts, a rollback and a followed scale
  test/integration/network/user-networks.test.ts # 40-65, a dozen containers and an agent restart
  test/integration/image/berth-image.test.ts     # 90-150, builds the berth image twice (gzip -9 of ~230 MB)
)

# Files that need root (test/README.md says what for). Run by another user they
# are not started: the run fails naming them. (startAgent and the in-process
# runtime also refuse a non-root caller with a message, for node --test runs.)
NEEDS_ROOT=(
  test/integration/api test/integration/cli test/integration/containers test/integration/deploy
  test/integration/dashboards test/integration/exec test/integration/image test/integration/metrics
  test/integration/logs-e2e test/integration/network test/integration/snapshot
  test/integration/haproxy/sigint.test.ts test/integration/logs/informer-race.test.ts
  test/integration/web test/integration/main
  test/unit/image/extract.test.ts test/unit/image/store.test.ts test/unit/image/limits.test.ts
  test/unit/agent/dirs.test.ts test/unit/metrics/live-v1.test.ts
  test/integration/helm/pod.test.ts test/integration/helm/consul-tls.test.ts
  test/integration/observe
)
refused=()
if [ "$(id -u)" -ne 0 ]; then
  runnable=()
  for f in "${files[@]}"; do
    hit=''
    for r in "${NEEDS_ROOT[@]}"; do case "$f" in "$r" | "$r"/*) hit=1 ;; esac; done
    if [ -n "$hit" ]; then refused+=("$f"); else runnable+=("$f"); fi
  done
  files=("${runnable[@]}")
fi

# Two more than the cores keeps them busy (the integration files wait on
# containers, HAProxy and receivers much of the time). On 2 cores: the unit
# folder (869 tests) takes 75 s one at a time, 38 s at 2, 32 s at 3, 31 s at 4;
# cli, containers and logs (17 integration files) 85 s at 2, 63 s at 3, 56 s
# at 4; the whole suite (1119 tests) 3 min 12 s at 3, 2 min 50 s at 4.
cores="$(nproc 2>/dev/null || echo 2)"
[ "$cores" -lt 2 ] && cores=2
jobs="${BERTH_TEST_JOBS:-$((cores + 2))}"
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then echo "BERTH_TEST_JOBS must be a positive number, got '$jobs'" >&2; exit 1; fi

in_list() {
  local f="$1"; shift
  local x
  for x in "$@"; do [ "$x" = "$f" ] && return 0; done
  return 1
}
unit=() parallel=() serial=()
for f in "${files[@]}"; do
  case "$f" in
    test/unit/*) unit+=("$f") ;;
    *) if in_list "$f" "${SERIAL[@]}"; then serial+=("$f"); else parallel+=("$f"); fi ;;
  esac
done
early=() ordered=()
for f in "${EARLY[@]}"; do in_list "$f" "${parallel[@]}" && early+=("$f"); done
for f in "${LONG[@]}"; do in_list "$f" "${parallel[@]}" && ! in_list "$f" "${early[@]}" && ordered+=("$f"); done
for f in "${parallel[@]}"; do in_list "$f" "${LONG[@]}" || in_list "$f" "${early[@]}" || ordered+=("$f"); done

# What the files of this run share: the Consul dev agent (consul.json, its
# pid) and the flag that defers the shared host cleanup to the end.
shared="$(mktemp -d /tmp/berth-test-run-XXXXXX)"
export BERTH_TEST_RUN_DIR="$shared"
node_bin="$root/src/bin/berth-node"
early_pid=''
finish() {
  if [ -n "$early_pid" ]; then kill "$early_pid" 2>/dev/null; wait "$early_pid" 2>/dev/null; fi
  "$node_bin" --import tsx "$root/test/harness/run-end.ts" "$shared" || true
  rm -rf "$shared"
}
trap finish EXIT
trap 'exit 130' INT TERM

status=0
if [ "${#refused[@]}" -gt 0 ]; then
  echo "# not run: ${#refused[@]} test files need root (containers, netns, bridges, cgroups, mounts, chown); run as root: sudo bash test/run.sh $*" >&2
  printf '#   %s\n' "${refused[@]}" >&2
  status=1
fi
run_phase() {
  local name="$1" conc="$2"; shift 2
  [ $# -eq 0 ] && return 0
  echo "# phase: $name ($# files, $conc at a time)"
  phase_n=$((phase_n + 1))
  "$node_bin" --import tsx --test --test-reporter=spec --test-concurrency="$conc" --test-timeout=600000 "$@" \
    2>&1 | tee "$shared/phase-$phase_n.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}
phase_n=0
if [ ${#early[@]} -gt 0 ]; then
  echo "# started beside the unit phase: ${early[*]} (its report follows phase 2)"
  "$node_bin" --import tsx --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 "${early[@]}" >"$shared/early.log" 2>&1 &
  early_pid=$!
fi
run_phase unit "$jobs" "${unit[@]}"
run_phase integration "$jobs" "${ordered[@]}"
if [ -n "$early_pid" ]; then
  wait "$early_pid" || status=1
  early_pid=''
  echo "# phase: started beside the unit phase (${#early[@]} files)"
  cat "$shared/early.log"
fi
run_phase 'integration, one at a time' 1 "${serial[@]}"
# One closing line for the whole run (each phase's runner printed its own): cancelled tests count as failed.
cat "$shared"/phase-*.log "$shared"/early.log 2>/dev/null |
  awk '/^ℹ pass /{p+=$3} /^ℹ fail /{f+=$3} /^ℹ cancelled /{f+=$3} /^ℹ skipped /{k+=$3}
    END{printf "suite: %d passed, %d failed, %d skipped\n", p, f, k}'
exit $status
