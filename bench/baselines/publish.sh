#!/usr/bin/env bash
# The naive publish pipeline users script today: tar -czf, base64, wrap in the JSON body of
# docs/registry-api.md, and POST it with curl. The baseline for the end-to-end publish case.
# usage: publish.sh PACKAGE_DIR FILE_LIST REGISTRY_URL WORK_DIR   (token in CHUKS_TOKEN)
set -euo pipefail
package_dir=$1 file_list=$2 registry=$3 work=$4
name="$(jq -r .name "$package_dir/chuks.json")"
version="$(jq -r .version "$package_dir/chuks.json")"
tar -czf "$work/package.tgz" -C "$package_dir" -T "$file_list"
sha256="$(sha256sum "$work/package.tgz" | cut -d' ' -f1)"
size="$(stat -c %s "$work/package.tgz")"
{
  printf '{"manifest":%s,"sha256":"%s","size":%s,"tarball":"' \
    "$(cat "$package_dir/chuks.json")" "$sha256" "$size"
  base64 -w0 "$work/package.tgz"
  printf '"}'
} > "$work/body.json"
curl -sS --fail-with-body -o "$work/answer.json" -X POST \
  -H "Authorization: Bearer $CHUKS_TOKEN" -H 'Content-Type: application/json' \
  --data-binary @"$work/body.json" "$registry/api/packages/$name/$version"
rm -f "$work/package.tgz" "$work/body.json"
