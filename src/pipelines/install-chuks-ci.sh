# Install chuks-ci: the release archive for this machine, checked against the sha256 this
# template pins for it (or against CHUKS_CI_SHA256) before it runs.
CHUKS_CI_VERSION="${CHUKS_CI_VERSION#v}"
case "$(uname -m)" in
  x86_64 | amd64) chuks_ci_platform=linux-x86_64 ;;
  aarch64 | arm64) chuks_ci_platform=linux-aarch64 ;;
  *) chuks_fail "no chuks-ci release archive for \`$(uname -m)\`" "run the job on an x86_64 or aarch64 Linux runner" ;;
esac
chuks_ci_archive="chuks-ci-$CHUKS_CI_VERSION-$chuks_ci_platform.tar.gz"
chuks_ci_expected="$CHUKS_CI_SHA256"
if [ -z "$chuks_ci_expected" ] && [ "$CHUKS_CI_VERSION" = "<{ chuks_ci_version }>" ]; then
  case "$chuks_ci_platform" in
<% for platform, sum in pins.archive_sums %>
    <{ platform }>) chuks_ci_expected=<{ sum }> ;;
<% endfor %>
    *) ;;
  esac
fi
if [ -z "$chuks_ci_expected" ]; then
  chuks_fail "no sha256 is pinned for \`$chuks_ci_archive\`" "use the chuks-ci version this template pins (<{ chuks_ci_version }>; leave chuks-ci-version at its default), or set chuks-ci-sha256 (CHUKS_CI_SHA256) to the sum from that release's SHA256SUMS"
fi
chuks_ci_url="$CHUKS_CI_RELEASE_URL/v$CHUKS_CI_VERSION/$chuks_ci_archive"
chuks_ci_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/chuks-ci.XXXXXX")"
curl -fsSL --retry 3 -o "$chuks_ci_dir/$chuks_ci_archive" "$chuks_ci_url" ||
  chuks_fail "could not download chuks-ci $CHUKS_CI_VERSION from \`$chuks_ci_url\`" "check that release $CHUKS_CI_VERSION exists (chuks-ci-version, without a \`v\`) and chuks-ci-release-url"
chuks_ci_actual="$(chuks_sha256 "$chuks_ci_dir/$chuks_ci_archive")"
[ "$chuks_ci_actual" = "$chuks_ci_expected" ] ||
  chuks_fail "checksum mismatch for \`$chuks_ci_archive\`: expected $chuks_ci_expected, got $chuks_ci_actual" "the download is not the pinned release asset; check the mirror rather than retry"
tar -xzf "$chuks_ci_dir/$chuks_ci_archive" -C "$chuks_ci_dir" chuks-ci
rm -f "$chuks_ci_dir/$chuks_ci_archive"
export PATH="$chuks_ci_dir:$PATH"
chuks-ci --version
