#!/usr/bin/env bash
# One idempotent set-up for both README commands.
#   .ci/setup.sh run   what `npm start` needs: npm deps, runc/crun/conmon,
#                      networking tools, HAProxy; builds dist/ and the dashboard (dist/web/).
#   .ci/setup.sh test  all of that plus what the test suite runs for real:
#                      Prometheus, docker-registry, podman, dnsmasq, dnsperf,
#                      wrk, dig, busybox-static, python3-fluent-logger, Chromium, and the
#                      Consul, Helm, compose-go (the Compose oracle) and cAdvisor (the metrics oracle) binaries built with Go (cached by version
#                      under ${BERTH_CACHE:-~/.cache/berth}).
#   Both first make sure of Node.js 24 (the pinned NODE_VERSION): the machine's
#   node when it is new enough, else the npm registry's node-linux-<arch>
#   package unpacked into the cache; npm dependencies are installed with it.
# A second run installs nothing and takes about a second.
set -euo pipefail
profile="${1:-test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BERTH_CACHE:-$HOME/.cache/berth}"
# shellcheck source=../test/tools/versions.env
. "$root/test/tools/versions.env"

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Node.js 24 ------------------------------------------------------------------
# berth runs on Node.js >= 24 (package.json engines). The order is the one the
# launcher uses (src/bin/find-node.sh): $BERTH_NODE, berth's cached Node, PATH.
# When none is new enough, the pinned NODE_VERSION comes from the npm registry
# as the package node-linux-<arch> (npm pack checks its registry integrity) and
# is unpacked into $cache/node/<version>; $cache/node/current points at it.
NODE_MAJOR=24
NODE=""
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
ensure_node() {
  local cand
  if [ -n "${BERTH_NODE:-}" ]; then
    if [ "$(node_major "$BERTH_NODE")" -lt $NODE_MAJOR ]; then
      say "BERTH_NODE=$BERTH_NODE is not Node.js >= $NODE_MAJOR"; exit 1
    fi
    NODE="$BERTH_NODE"; return 0
  fi
  for cand in "$cache/node/$NODE_VERSION/bin/node" "$(command -v node || true)"; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    if [ "$(node_major "$cand")" -ge $NODE_MAJOR ]; then NODE="$cand"; break; fi
  done
  if [ -z "$NODE" ]; then
    local arch tmp pkg
    case "$(uname -m)" in
      x86_64) arch=x64 ;; aarch64) arch=arm64 ;; ppc64le) arch=ppc64le ;; s390x) arch=s390x ;;
      *) say "no Node.js $NODE_MAJOR package for $(uname -m); install Node.js >= $NODE_MAJOR and set BERTH_NODE"; exit 1 ;;
    esac
    command -v npm >/dev/null || debian_pkgs npm
    say "installing Node.js $NODE_VERSION (npm package node-linux-$arch) into $cache/node"
    tmp="$(mktemp -d)"
    pkg="$(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION")"
    mkdir -p "$cache/node" "$tmp/x"
    tar -xzf "$tmp/$pkg" -C "$tmp/x"
    rm -rf "$cache/node/$NODE_VERSION"
    mv "$tmp/x/package" "$cache/node/$NODE_VERSION"
    rm -rf "$tmp"
    NODE="$cache/node/$NODE_VERSION/bin/node"
    [ "$(node_major "$NODE")" -ge $NODE_MAJOR ] || { say "the unpacked $NODE does not run"; exit 1; }
  fi
  # The launcher's second choice, refreshed when the pin moves; root-only like the rest of the cache.
  if [ "$NODE" = "$cache/node/$NODE_VERSION/bin/node" ] && \
     [ "$(readlink "$cache/node/current" 2>/dev/null)" != "$NODE_VERSION" ]; then
    ln -sfn "$NODE_VERSION" "$cache/node/current"
  fi
  return 0
}

# --- npm dependencies -------------------------------------------------------
# npm itself comes from the machine (the node package carries none); its own
# script runs under Node 24 so native addons are built for the runtime that
# loads them, against that runtime's headers (nodedir, no download). A change
# of Node major reinstalls them. re2 (the linear-time regex engine for
# multiline patterns from labels) has no prebuilt binary that can be fetched
# here, so it is compiled from source with node-gyp (g++, make, python3) once
# per re2 version and Node ABI and kept in the cache, like the Go builds.
npm_deps() {
  local marker="$root/node_modules/.package-lock.json" stamp="$root/node_modules/.berth-node"
  local want npm_cli nodedir re2ver re2cache ignore=()
  want="$("$NODE" -p 'process.versions.modules')"
  if [ ! -f "$marker" ] || [ "$root/package-lock.json" -nt "$marker" ] || \
     [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v npm >/dev/null || debian_pkgs npm
    npm_cli="$(readlink -f "$(command -v npm)")"
    nodedir="$(cd "$(dirname "$NODE")/.." && pwd)"
    re2ver="$("$NODE" -p "require('$root/package-lock.json').packages['node_modules/re2']?.version ?? ''")"
    re2cache="$cache/re2/$re2ver-abi$want/re2.node"
    if [ -f "$re2cache" ]; then ignore=(--ignore-scripts); else debian_pkgs g++ make python3; fi
    say "installing npm dependencies with Node $("$NODE" --version)${ignore:+ (re2 from the cache)}"
    (cd "$root" && PATH="$(dirname "$NODE"):$PATH" npm_config_nodedir="$nodedir" \
      "$NODE" "$npm_cli" ci --no-audit --no-fund --loglevel=error "${ignore[@]}")
    if [ -n "$re2ver" ]; then
      if [ -f "$re2cache" ]; then
        mkdir -p "$root/node_modules/re2/build/Release"
        cp "$re2cache" "$root/node_modules/re2/build/Release/re2.node"
      else
        mkdir -p "$(dirname "$re2cache")"
        cp "$root/node_modules/re2/build/Release/re2.node" "$re2cache.tmp" && mv -f "$re2cache.tmp" "$re2cache"
      fi
      (cd "$root" && "$NODE" -e "new (require('re2'))('^a+$')") || { say "re2 does not load under $NODE"; exit 1; }
    fi
    echo "$want" > "$stamp"
  fi
}

# --- Debian packages ----------------------------------------------------------
run_pkgs=(runc crun conmon iproute2 iptables haproxy ca-certificates)
test_pkgs=(busybox-static prometheus docker-registry podman dnsmasq-base dnsperf wrk bind9-dnsutils
  python3-fluent-logger zstd openssl procps chromium)

debian_pkgs() {
  local want=("$@") missing=()
  for p in "${want[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  # Installing server packages must not start their system services (a
  # registry on :5000, Prometheus on :9090): the tests start their own.
  local rcd=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$rcd" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$rcd" >/dev/null && as_root chmod +x "$rcd" && created=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $created = 1 ] && as_root rm -f "$rcd"
  return 0
}

# --- Go toolchain ---------------------------------------------------------------
# Uses the machine's go when it is new enough; otherwise Debian's golang-go
# fetches the pinned toolchain as an ordinary module from the module proxy.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
GO=""
find_go() {
  [ -n "$GO" ] && return 0
  local cand v
  for cand in "$(command -v go || true)" "$cache/go/go$GO_TOOLCHAIN_VERSION/bin/go"; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    v="$("$cand" env GOVERSION 2>/dev/null | sed 's/^go//')"
    if [ -n "$v" ] && version_ge "$v" "$GO_TOOLCHAIN_VERSION"; then GO="$cand"; return 0; fi
  done
  say "fetching the Go $GO_TOOLCHAIN_VERSION toolchain module"
  command -v go >/dev/null || debian_pkgs golang-go
  local arch mod tmp
  arch="$(dpkg --print-architecture)"
  mod="golang.org/toolchain@v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-$arch"
  tmp="$(mktemp -d)"
  (cd "$tmp" && GOFLAGS=-mod=mod GOMODCACHE="$tmp/mod" GOTOOLCHAIN=local go mod download "$mod")
  mkdir -p "$cache/go"
  rm -rf "$cache/go/go$GO_TOOLCHAIN_VERSION"
  cp -r "$tmp/mod/$mod" "$cache/go/go$GO_TOOLCHAIN_VERSION"
  chmod -R u+w "$tmp" "$cache/go/go$GO_TOOLCHAIN_VERSION" && rm -rf "$tmp"
  # Module zips carry no mode bits.
  chmod +x "$cache/go/go$GO_TOOLCHAIN_VERSION"/bin/* "$cache/go/go$GO_TOOLCHAIN_VERSION"/pkg/tool/*/*
  GO="$cache/go/go$GO_TOOLCHAIN_VERSION/bin/go"
}

# --- Consul and Helm, built from the Go module proxy, cached by version -------
build_tools() {
  local bin="$cache/bin" start
  mkdir -p "$bin"
  if [ ! -x "$bin/consul-$CONSUL_VERSION" ]; then
    find_go
    say "building consul $CONSUL_VERSION (first time only; several minutes)"
    start=$SECONDS
    (cd "$root/test/tools/consul" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
      "$GO" build -trimpath -o "$bin/.consul-$CONSUL_VERSION.tmp" github.com/hashicorp/consul)
    mv -f "$bin/.consul-$CONSUL_VERSION.tmp" "$bin/consul-$CONSUL_VERSION"
    say "built consul in $((SECONDS - start))s"
  fi
  if [ ! -x "$bin/helm-$HELM_VERSION" ]; then
    find_go
    say "building helm $HELM_VERSION (first time only)"
    start=$SECONDS
    # Helm 4 as a dependency of test/tools/helm (go.sum pins every module), its
    # version stamped as Helm's own release build does (`helm version` says it).
    (cd "$root/test/tools/helm" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly "$GO" build -trimpath \
      -ldflags "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
      -o "$bin/.helm-$HELM_VERSION.tmp" helm.sh/helm/v4/cmd/helm)
    mv -f "$bin/.helm-$HELM_VERSION.tmp" "$bin/helm-$HELM_VERSION"
    say "built helm in $((SECONDS - start))s"
  fi
  # compose-go, the oracle of the Compose loader tests: a tiny main in
  # test/tools/compose-go (go.mod pins the version; versions.env names it for the cache).
  if [ ! -x "$bin/compose-go-$COMPOSE_GO_VERSION" ]; then
    find_go
    say "building compose-go $COMPOSE_GO_VERSION (first time only)"
    start=$SECONDS
    (cd "$root/test/tools/compose-go" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
      "$GO" build -trimpath -o "$bin/.compose-go-$COMPOSE_GO_VERSION.tmp" .)
    mv -f "$bin/.compose-go-$COMPOSE_GO_VERSION.tmp" "$bin/compose-go-$COMPOSE_GO_VERSION"
    say "built compose-go in $((SECONDS - start))s"
  fi
  # cAdvisor's library (manager, raw factory, Prometheus collector) behind a
  # small main in test/tools/cadvisor: the parity test and the vs-cadvisor bench.
  if [ ! -x "$bin/cadvisor-$CADVISOR_VERSION" ]; then
    find_go
    say "building cadvisor $CADVISOR_VERSION (first time only)"
    start=$SECONDS
    (cd "$root/test/tools/cadvisor" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
      "$GO" build -trimpath -o "$bin/.cadvisor-$CADVISOR_VERSION.tmp" .)
    mv -f "$bin/.cadvisor-$CADVISOR_VERSION.tmp" "$bin/cadvisor-$CADVISOR_VERSION"
    say "built cadvisor in $((SECONDS - start))s"
  fi
}

# --- the demo image (npm start's demo project, demo/README.md) -----------------
# berth-demo:v1 and :v2, rootfs tarballs of Debian's busybox-static (one static
# binary and its applet links) plus demo/image/, built into $cache/demo/ when
# missing or older than demo/image. Deterministic (sorted, fixed mtime and
# owner), so the same inputs give the same image digest. The agent imports them
# (`berth agent` with BERTH_DEMO) when its image store lacks them.
build_demo() {
  local out="$cache/demo" v tmp
  debian_pkgs busybox-static
  mkdir -p "$out"
  for v in v1 v2; do
    if [ -f "$out/berth-demo-$v.tar" ] && [ -z "$(find "$root/demo/image" -newer "$out/berth-demo-$v.tar" -print -quit)" ]; then
      continue
    fi
    tmp="$(mktemp -d)"
    mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/proc" "$tmp/sys" "$tmp/dev"
    chmod 0755 "$tmp"; chmod 1777 "$tmp/tmp"
    cp /bin/busybox "$tmp/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"; done
    cp -r "$root/demo/image/." "$tmp/"
    echo "$v" > "$tmp/etc/demo-version"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$tmp/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
    tar --sort=name --mtime=@1704067200 --owner=0 --group=0 --numeric-owner -C "$tmp" -cf "$out/.berth-demo-$v.tar" .
    mv -f "$out/.berth-demo-$v.tar" "$out/berth-demo-$v.tar"
    rm -rf "$tmp"
    say "built the demo image berth-demo:$v"
  done
}

# --- compiled CLI (dist/), rebuilt when a source is newer than the stamp -------
build_dist() {
  local stamp="$root/dist/.build-stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$root/src" "$root/runtime" "$root/sidecar" "$root/package.json" \
      "$root/tsconfig.json" -newer "$stamp" -name '*.ts' -print -quit 2>/dev/null)" ] \
      || [ "$root/package.json" -nt "$stamp" ]; then
    say "compiling TypeScript to dist/"
    (cd "$root" && rm -f "$stamp" && "$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json && touch "$stamp")
  fi
}

# --- the dashboard's bundle (dist/web/), rebuilt when a file under web/ changed -----
# web/build.ts itself skips an up-to-date build (it compares web/ with dist/web/.build-stamp).
build_web() {
  (cd "$root" && "$NODE" --import tsx web/build.ts --quiet)
}

case "$profile" in
  run)
    ensure_node; npm_deps; debian_pkgs "${run_pkgs[@]}"; build_dist; build_web; build_demo ;;
  test)
    ensure_node; npm_deps; debian_pkgs "${run_pkgs[@]}" "${test_pkgs[@]}"; build_tools; build_dist; build_web; build_demo ;;
  *)
    echo "usage: .ci/setup.sh run|test" >&2; exit 2 ;;
esac
