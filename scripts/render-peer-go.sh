#!/usr/bin/env bash
# Peer figure for the exporter's /metrics render: Go client_golang with N series.
#   scripts/render-peer-go.sh N
# Builds scripts/render-peer-go/main.go offline against Debian's Go packages (golang-go and
# golang-github-prometheus-client-golang-dev, installed here with apt-get if missing) in GOPATH
# mode (GO111MODULE=off, GOPATH=<temp dir>:/usr/share/gocode; no module proxy is needed), into a
# temp dir that is removed afterwards, then runs it. Prints go_client_golang_render_seconds=<float>
# and bytes=<n>.
set -euo pipefail
n=${1:?usage: scripts/render-peer-go.sh N}
src="$(cd "$(dirname "$0")" && pwd)/render-peer-go"
gocode=/usr/share/gocode/src/github.com/prometheus

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/lib/go/bin/go ] || [ ! -d "$gocode/client_golang/prometheus" ] || [ ! -d "$gocode/common/expfmt" ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    golang-go golang-github-prometheus-client-golang-dev >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Reuse the user's build cache when there is one (a cold build takes ~20 s on 2 cores).
cache=$(/usr/lib/go/bin/go env GOCACHE 2>/dev/null || true)
[ -n "$cache" ] && [ "$cache" != off ] || cache="$work/cache"
(cd "$src" && GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= GOCACHE="$cache" \
  /usr/lib/go/bin/go build -o "$work/render-peer" .)
"$work/render-peer" "$n"
