#!/usr/bin/env bash
# One idempotent set-up for both README commands.
#   .ci/setup.sh run   what `npm start` needs: npm deps, runc/crun/conmon,
#                      networking tools, HAProxy; builds dist/.
#   .ci/setup.sh test  all of that plus what the test suite runs for real:
#                      Prometheus, docker-registry, podman, dnsmasq, dnsperf,
#                      wrk, dig, busybox-static, python3-fluent-logger, and the
#                      Consul and Helm binaries built with Go (cached by version
#                      under ${BERTH_CACHE:-~/.cache/berth}).
# A second run installs nothing and takes about a second.
set -euo pipefail
profile="${1:-test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BERTH_CACHE:-$HOME/.cache/berth}"
# shellcheck source=../test/tools/versions.env
. "$root/test/tools/versions.env"

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- npm dependencies -------------------------------------------------------
npm_deps() {
  local marker="$root/node_modules/.package-lock.json"
  if [ ! -f "$marker" ] || [ "$root/package-lock.json" -nt "$marker" ]; then
    say "installing npm dependencies"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# --- Debian packages ----------------------------------------------------------
run_pkgs=(runc crun conmon iproute2 iptables haproxy ca-certificates zstd)
test_pkgs=(busybox-static prometheus docker-registry podman dnsmasq-base dnsperf wrk bind9-dnsutils
  python3-fluent-logger zstd openssl procps)

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
    local gobin
    gobin="$(mktemp -d)"
    GOTOOLCHAIN=local GOBIN="$gobin" GOFLAGS= "$GO" install -trimpath "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
    mv -f "$gobin/helm" "$bin/helm-$HELM_VERSION" && rm -rf "$gobin"
    say "built helm in $((SECONDS - start))s"
  fi
}

# --- compiled CLI (dist/), rebuilt when a source is newer than the stamp -------
build_dist() {
  local stamp="$root/dist/.build-stamp"
  if [ ! -f "$stamp" ] || [ -n "$(find "$root/src" "$root/runtime" "$root/sidecar" "$root/package.json" \
      "$root/tsconfig.json" -newer "$stamp" -name '*.ts' -print -quit 2>/dev/null)" ] \
      || [ "$root/package.json" -nt "$stamp" ]; then
    say "compiling TypeScript to dist/"
    (cd "$root" && rm -f "$stamp" && npx --no-install tsc -p tsconfig.build.json && touch "$stamp")
  fi
}

case "$profile" in
  run)
    npm_deps; debian_pkgs "${run_pkgs[@]}"; build_dist ;;
  test)
    npm_deps; debian_pkgs "${run_pkgs[@]}" "${test_pkgs[@]}"; build_tools; build_dist ;;
  *)
    echo "usage: .ci/setup.sh run|test" >&2; exit 2 ;;
esac
