#!/usr/bin/env bash
# Maps the action's inputs (passed as INPUT_* environment variables) to `chuks-ci publish` flags
# (step 2 of action.yml). The token stays in CHUKS_TOKEN and never appears on a command line.
set -euo pipefail

args=(publish --manifest "${INPUT_MANIFEST:-chuks.json}")
if [[ -n "${INPUT_REGISTRY:-}" ]]; then args+=(--registry "$INPUT_REGISTRY"); fi
if [[ -n "${INPUT_TAG_PREFIX:-}" ]]; then args+=(--tag-prefix "$INPUT_TAG_PREFIX"); fi

case "${INPUT_DRY_RUN:-false}" in
  true) args+=(--dry-run) ;;
  false | "") ;;
  *) echo "error: dry-run must be true or false, not \`$INPUT_DRY_RUN\`" >&2; exit 2 ;;
esac

# `auto` is chuks-ci's default, so only the other modes are passed on.
case "${INPUT_CONFIRM_TAG:-auto}" in
  auto | "") ;;
  required | off) args+=(--confirm-tag "$INPUT_CONFIRM_TAG") ;;
  *) echo "error: confirm-tag must be auto, required or off, not \`$INPUT_CONFIRM_TAG\`" >&2; exit 2 ;;
esac

if [[ -n "${INPUT_PREBUILT_FILE:-}" ]]; then
  args+=(--prebuilt --platform "${INPUT_PLATFORM:-auto}" --file "$INPUT_PREBUILT_FILE")
fi

if [[ -z "${CHUKS_TOKEN:-}" && "${INPUT_DRY_RUN:-false}" != "true" ]]; then
  echo "error: the token input is empty" >&2
  echo "hint: add the repository secret CHUKS_TOKEN and pass it as \`token: \${{ secrets.CHUKS_TOKEN }}\`" >&2
  exit 3
fi

exec chuks-ci "${args[@]}"
