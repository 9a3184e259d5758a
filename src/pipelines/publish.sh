# Publish: the options become `chuks-ci publish` flags. The token reaches chuks-ci, and the
# official CLI it may hand the upload to, only as CHUKS_TOKEN in the environment; with none,
# chuks-ci exchanges the job's ID token (trusted publishing) unless trusted-publishing is never.
CHUKS_TOKEN="$(printenv "${CHUKS_TOKEN_VARIABLE:-CHUKS_TOKEN}" || true)"
if [ -n "$CHUKS_TOKEN" ]; then export CHUKS_TOKEN; else unset CHUKS_TOKEN; fi
export CHUKS_TRUSTED_PUBLISHING
case "$CHUKS_DRY_RUN" in
  true | false) ;;
  *) chuks_fail "dry-run must be true or false, not \`$CHUKS_DRY_RUN\`" "set dry-run (CHUKS_DRY_RUN) to true or false" 2 ;;
esac
if [ -z "${CHUKS_TOKEN:-}" ] && [ "$CHUKS_DRY_RUN" != true ] && [ "$CHUKS_TRUSTED_PUBLISHING" = never ]; then
  chuks_fail "the Chuks API token (\`${CHUKS_TOKEN_VARIABLE:-CHUKS_TOKEN}\`) is empty" "<{ token_hint | sh_quoted }>" 3
fi
set -- publish --manifest "$CHUKS_MANIFEST" --confirm-tag "$CHUKS_CONFIRM_TAG" --if-exists "$CHUKS_IF_EXISTS"
if [ -n "$chuks_dotenv" ]; then set -- "$@" --dotenv "$chuks_dotenv"; fi
if [ -n "$CHUKS_REGISTRY_URL" ]; then set -- "$@" --registry "$CHUKS_REGISTRY_URL"; fi
if [ -n "$CHUKS_TAG_PREFIX" ]; then set -- "$@" --tag-prefix "$CHUKS_TAG_PREFIX"; fi
if [ "$CHUKS_DRY_RUN" = true ]; then set -- "$@" --dry-run; fi
case "$CHUKS_WORKSPACE" in
  true) set -- "$@" --workspace ;;
  false) ;;
  *) chuks_fail "workspace must be true or false, not \`$CHUKS_WORKSPACE\`" "set workspace (CHUKS_WORKSPACE) to true or false" 2 ;;
esac
if [ -n "$CHUKS_PREBUILT_FILE" ]; then
  set -- "$@" --prebuilt --platform "$CHUKS_PREBUILT_PLATFORM" --file "$CHUKS_PREBUILT_FILE"
fi
case "$CHUKS_VERBOSITY" in
  0) ;;
  1) set -- "$@" -v ;;
  2) set -- "$@" -vv ;;
  *) chuks_fail "verbosity must be 0, 1 or 2, not \`$CHUKS_VERBOSITY\`" "set verbosity (CHUKS_VERBOSITY) to 0, 1 or 2" 2 ;;
esac
# chuks-ci reads the uploader and the official CLI's path from the environment.
CHUKS_UPLOADER="$CHUKS_USE_UPLOADER"
export CHUKS_UPLOADER
cd "$CHUKS_WORKING_DIRECTORY" ||
  chuks_fail "working-directory \`$CHUKS_WORKING_DIRECTORY\` is not a folder of the checkout" "set working-directory to the folder holding chuks.json, relative to the checkout"
chuks-ci "$@"
