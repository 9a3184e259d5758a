#!/usr/bin/env bash
# Installs chuks-ci for this runner (step 1 of action.yml).
#
# Downloads the release archive for RUNNER_OS/RUNNER_ARCH, verifies it against the sha256 pinned
# in action/SHA256SUMS (a mismatch or a missing pin fails the step), caches the archive under
# RUNNER_TOOL_CACHE, and adds a per-job copy of the binary to PATH. Linux on ARM64 gets the
# linux-aarch64 build; Windows on ARM64 runs the windows-x86_64 build under emulation.
set -euo pipefail

fail() {
  printf '::error title=chuks-ci install::%s\n' "$1"
  printf 'error: %s\nhint: %s\n' "$1" "$2" >&2
  exit 1
}

pinned="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/SHA256SUMS"
version="${CHUKS_CI_VERSION:-}"
version="${version#v}"
[[ -n "$version" ]] ||
  fail "the chuks-ci-version input is empty" \
    "leave chuks-ci-version out to install the version this action release pins"
base_url="${CHUKS_CI_RELEASE_URL:-https://github.com/chuks/publish-action/releases/download}"
base_url="${base_url%/}"
cache_root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-}}"
[[ -n "$cache_root" ]] ||
  fail "neither RUNNER_TOOL_CACHE nor RUNNER_TEMP is set" "run the action in a GitHub Actions job"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) platform=linux-x86_64 ;;
  Linux/ARM64) platform=linux-aarch64 ;;
  macOS/ARM64) platform=darwin-arm64 ;;
  macOS/X64) platform=darwin-x86_64 ;;
  Windows/X64 | Windows/ARM64) platform=windows-x86_64 ;;
  *)
    fail "no chuks-ci release archive for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" \
      "run the job on Linux (x64 or ARM64), macOS (x64 or ARM64) or Windows (x64 or ARM64)"
    ;;
esac

archive="chuks-ci-$version-$platform.tar.gz"
expected="$(awk -v f="$archive" '!/^#/ && ($2 == f || $2 == "*" f) { print $1 }' "$pinned")"
[[ -n "$expected" ]] ||
  fail "no sha256 is pinned for $archive in this action release's action/SHA256SUMS" \
    "leave chuks-ci-version out to install the version this action release pins, or use an action release that pins $version (uses: chuks/publish-action@v$version)"

# The shared tool cache keeps only the archive. Each job copies it into its own folder, checks
# the copy against the pin, and runs the binary extracted from that copy, so nothing another
# process writes into the cache afterwards is ever run.
dir="$cache_root/chuks-ci/$version/$platform"
cached="$dir/$archive"
job_dir="$(mktemp -d "${RUNNER_TEMP:-/tmp}/chuks-ci.XXXXXX")"
copy="$job_dir/$archive"
if [[ -f "$cached" ]]; then cp "$cached" "$copy"; fi
if [[ -f "$copy" && "$(sha256_of "$copy")" == "$expected" ]]; then
  echo "chuks-ci $version ($platform) found in the tool cache; sha256 re-verified"
else
  url="$base_url/v$version/$archive"
  echo "downloading $url"
  curl --fail --silent --show-error --location --retry 3 --output "$copy" "$url" ||
    fail "could not download chuks-ci $version from $url" \
      "check that release v$version exists and, for a mirror, the chuks-ci-release-url input"
  actual="$(sha256_of "$copy")"
  [[ "$actual" == "$expected" ]] ||
    fail "checksum mismatch for $archive: expected $expected, got $actual" \
      "the download is not the pinned release asset; do not retry blindly, check the mirror"
  echo "verified $archive: sha256 $actual"
  mkdir -p "$dir"
  cp "$copy" "$cached.$$" && mv -f "$cached.$$" "$cached"
fi
mkdir -p "$job_dir/extract" "$job_dir/bin"
tar -xzf "$copy" -C "$job_dir/extract"
for exe in chuks-ci chuks-ci.exe; do
  if [[ -f "$job_dir/extract/$exe" ]]; then mv "$job_dir/extract/$exe" "$job_dir/bin/$exe"; fi
done

echo "$job_dir/bin" >>"$GITHUB_PATH"
