#!/usr/bin/env bash
# The Bitbucket pipe's entry point: maps the pipe variables to `chuks-ci publish` flags and runs it
# in the clone. The token stays in CHUKS_TOKEN (and CHUKS_REGISTRY_URL is read by chuks-ci itself).
# Results are also written as a dotenv file, chuks.env in the clone, for later steps.
set -euo pipefail

clone_dir="${BITBUCKET_CLONE_DIR:-$PWD}"

if [[ -z "${CHUKS_TOKEN:-}" && "${DRY_RUN:-false}" != "true" ]]; then
  echo "error: the pipe variable CHUKS_TOKEN is empty" >&2
  echo "hint: add a secured repository variable CHUKS_TOKEN (Repository settings → Pipelines → Repository variables) and pass CHUKS_TOKEN: \$CHUKS_TOKEN" >&2
  exit 3
fi

args=(publish --manifest "${MANIFEST:-chuks.json}" --dotenv "$clone_dir/chuks.env")
if [[ -n "${TAG_PREFIX:-}" ]]; then args+=(--tag-prefix "$TAG_PREFIX"); fi
case "${DRY_RUN:-false}" in
  true) args+=(--dry-run) ;;
  false | "") ;;
  *) echo "error: DRY_RUN must be true or false, not \`$DRY_RUN\`" >&2; exit 2 ;;
esac
if [[ -n "${PREBUILT_FILE:-}" ]]; then
  args+=(--prebuilt --platform "${PLATFORM:-auto}" --file "$PREBUILT_FILE")
fi
if [[ "${DEBUG:-false}" == "true" ]]; then args+=(-vv); fi

# The pipe's container user does not own the mounted clone, and git refuses such a repository
# ("dubious ownership"). Mark this one clone safe in a private global config, not the image's.
GIT_CONFIG_GLOBAL="$(mktemp)"
export GIT_CONFIG_GLOBAL
git config --file "$GIT_CONFIG_GLOBAL" --add safe.directory "$clone_dir"

cd "$clone_dir/${WORKING_DIRECTORY:-.}"
exec chuks-ci "${args[@]}"
