# Install the official chuks CLI, the uploader the real registry speaks, into a folder of this
# step's own; it is on PATH (and in CHUKS_BIN) for this step only. Not needed for `uploader: http`.
case "$CHUKS_INSTALL_CLI/$CHUKS_USE_UPLOADER" in
  true/http | false/*) ;;
  true/*)
    case "$(uname -s)/$(uname -m)" in
      Linux/x86_64 | Linux/amd64) chuks_asset=chuks-linux-amd64 ;;
      Linux/aarch64 | Linux/arm64) chuks_asset=chuks-linux-arm64 ;;
      Darwin/x86_64) chuks_asset=chuks-darwin-amd64 ;;
      Darwin/arm64) chuks_asset=chuks-darwin-arm64 ;;
      # Windows on ARM64 runs the x64 build under emulation; no arm64 build is published.
      MINGW* | MSYS* | CYGWIN*) chuks_asset=chuks-windows-amd64 ;;
      *) chuks_fail "no \`chuks\` CLI release for $(uname -s)/$(uname -m)" "install it in an earlier step and set install-chuks to false, or use uploader http" 2 ;;
    esac
    case "$chuks_asset" in
      *windows*) chuks_file="$chuks_asset.zip" chuks_exe=chuks.exe ;;
      *) chuks_file="$chuks_asset.tar.gz" chuks_exe=chuks ;;
    esac
    case "$CHUKS_CLI_VERSION" in
      latest) chuks_url="$CHUKS_CLI_RELEASE_URL/latest/download/$chuks_file" ;;
      *) chuks_url="$CHUKS_CLI_RELEASE_URL/download/$CHUKS_CLI_VERSION/$chuks_file" ;;
    esac
    chuks_dir="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/chuks-cli.XXXXXX")"
    curl -fsSL --retry 3 -o "$chuks_dir/$chuks_file" "$chuks_url" ||
      chuks_fail "could not download the \`chuks\` CLI $CHUKS_CLI_VERSION ($chuks_file) from \`$chuks_url\`" "check chuks-version: a release tag of https://github.com/chuks-programming-language/releases such as v0.1.0, or latest"
    chuks_actual="$(chuks_sha256 "$chuks_dir/$chuks_file")"
    if [ -n "$CHUKS_CLI_SHA256" ] && [ "$chuks_actual" != "$CHUKS_CLI_SHA256" ]; then
      chuks_fail "checksum mismatch for the \`chuks\` CLI $chuks_file: expected $CHUKS_CLI_SHA256, got $chuks_actual" "the download is not the release asset you pinned in chuks-sha256; check the version and the mirror"
    fi
    case "$chuks_file" in
      *.zip) unzip -q -o "$chuks_dir/$chuks_file" -d "$chuks_dir" ;;
      *) tar -xzf "$chuks_dir/$chuks_file" -C "$chuks_dir" ;;
    esac
    [ -f "$chuks_dir/$chuks_asset/$chuks_exe" ] ||
      chuks_fail "the \`chuks\` CLI archive $chuks_file holds no $chuks_asset/$chuks_exe" "check chuks-version and chuks-release-url"
    chmod +x "$chuks_dir/$chuks_asset/$chuks_exe"
    if [ "$(uname -s)" = Darwin ]; then
      # Downloaded binaries are quarantined on macOS; clear that and sign ad hoc so it runs.
      xattr -cr "$chuks_dir/$chuks_asset/$chuks_exe" 2>/dev/null || true
      codesign --force --sign - "$chuks_dir/$chuks_asset/$chuks_exe" 2>/dev/null || true
    fi
    PATH="$chuks_dir/$chuks_asset:$PATH"
    CHUKS_BIN="$chuks_dir/$chuks_asset/$chuks_exe"
    export PATH CHUKS_BIN
    echo "installed the chuks CLI $CHUKS_CLI_VERSION ($chuks_file, sha256 $chuks_actual)"
    ;;
  *) chuks_fail "install-chuks must be true or false, not \`$CHUKS_INSTALL_CLI\`" "set install-chuks (CHUKS_INSTALL_CLI) to true or false" 2 ;;
esac
