#!/usr/bin/env bash
# Today's hand-rolled release-tag step: strip `refs/tags/v` from GITHUB_REF and compare it
# with the version in chuks.json. This is the baseline `chuks-ci verify-tag` is measured against.
set -euo pipefail
tag_version="${GITHUB_REF#refs/tags/v}"
manifest_version="$(jq -r .version chuks.json)"
if [ "$tag_version" != "$manifest_version" ]; then
  echo "::error::tag v$tag_version does not match version $manifest_version in chuks.json" >&2
  exit 1
fi
echo "ok: tag v$tag_version matches chuks.json"
