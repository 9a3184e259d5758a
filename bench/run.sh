#!/usr/bin/env bash
# The one entry point of the benchmarks: installs the tools, builds chuks-ci in release mode,
# and runs bench/bench.py, which writes docs/benchmarks.md. Arguments go to bench.py
# (e.g. `--runs 3`, `--cases pack,publish`). Never part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in jq hyperfine curl git tar gzip; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=(time)
command -v taskset >/dev/null || missing+=(util-linux)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo build --release --locked --quiet
exec python3 bench/bench.py --command "bash bench/run.sh${*:+ $*}" "$@"
