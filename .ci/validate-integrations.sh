#!/usr/bin/env bash
# Lints the CI integrations with the platforms' own schemas and security checkers: action.yml,
# the workflows, the GitLab component and template, the Bitbucket files and pipe, ci-examples.
# Tools come from target/ci-tools (installed by .ci/install-validators.sh) or PATH. A missing tool
# prints `SKIP: <tool> not installed` and passes, unless CHUKS_CI_STRICT=1, where it fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

tools="${CHUKS_CI_TOOLS:-$PWD/target/ci-tools}"
export PATH="$tools/venv/bin:$tools/npm/node_modules/.bin:$PATH"
strict="${CHUKS_CI_STRICT:-0}"
# CI logs are not terminals, yet some validators (zizmor) colour their output when CI is set.
export NO_COLOR=1
failures=()
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ "$strict" == 1 ]]; then
    echo "FAIL: $1 not installed (CHUKS_CI_STRICT=1)"
    failures+=("$1 not installed")
  else
    echo "SKIP: $1 not installed"
  fi
  return 1
}

check() {
  echo "== $*"
  if ! "$@"; then failures+=("$*"); fi
}

github_workflows=(.github/workflows/*.yml templates/github/publish.yml ci-examples/github/*.yml docs/migrating/*.yml)
gitlab_files=(templates/gitlab/*.yml ci-examples/gitlab/*.yml)
bitbucket_files=(templates/bitbucket/shared-pipelines.yml ci-examples/bitbucket/*.yml)
shell_scripts=(action/*.sh templates/bitbucket/pipe/pipe.sh .ci/*.sh)

# The rendered examples and integration files must be what this chuks-ci renders.
chuks_ci="${CHUKS_CI_BIN:-target/debug/chuks-ci}"
if [[ -x "$chuks_ci" ]]; then
  check "$chuks_ci" maintain examples --check
else
  check cargo run --quiet --locked -- maintain examples --check
fi

# Schemas first: zizmor silently skips files it cannot parse.
if have check-jsonschema; then
  check check-jsonschema --builtin-schema vendor.github-actions action.yml
  check check-jsonschema --builtin-schema vendor.github-workflows "${github_workflows[@]}"
  check check-jsonschema --builtin-schema vendor.gitlab-ci --data-transform gitlab-ci "${gitlab_files[@]}"
  # A component is two YAML documents: the spec header, and jobs that validate once the inputs
  # are substituted (here with their defaults).
  check python3 .ci/ci_yaml.py component "$work/component" templates/chuks-publish/template.yml ||
    true
  if [[ -f "$work/component/chuks-publish.body.gitlab-ci.yml" ]]; then
    check check-jsonschema --builtin-schema vendor.gitlab-ci --data-transform gitlab-ci \
      "$work/component/chuks-publish.body.gitlab-ci.yml"
  fi
  # The schema predates a step's OIDC `audiences`; .ci/ci_yaml.py says why the copies differ.
  mapfile -t bitbucket_copies < <(python3 .ci/ci_yaml.py bitbucket-oidc "$work/bitbucket" "${bitbucket_files[@]}")
  check check-jsonschema --builtin-schema vendor.bitbucket-pipelines "${bitbucket_copies[@]}"
  check check-jsonschema --schemafile .ci/schemas/bitbucket-pipe.json templates/bitbucket/pipe/pipe.yml
fi

if have action-validator; then
  # It takes one file per run.
  for file in action.yml "${github_workflows[@]}"; do check action-validator "$file"; done
fi

# actionlint also runs shellcheck over every `run:` script.
if have actionlint && have shellcheck; then
  check actionlint "${github_workflows[@]}"
  # The examples and migrations call the action and the reusable workflow remotely, where
  # actionlint cannot see their inputs. In a copy laid out as a repository of its own, every call
  # names the local files instead, so a caller passing an input they lack fails here.
  local_repo="$work/local-calls"
  mkdir -p "$local_repo/.github/workflows"
  cp -R action.yml action "$local_repo/"
  git -C "$local_repo" init --quiet
  to_local() {
    sed -E -e 's#chuks/publish-action/\.github/workflows/publish\.yml@[^ ]+( \#.*)?$#./.github/workflows/publish.yml#' \
      -e 's#chuks/publish-action@[^ ]+( \#.*)?$#./#' "$1" >"$2"
  }
  to_local .github/workflows/publish.yml "$local_repo/.github/workflows/publish.yml"
  for file in ci-examples/github/*.yml docs/migrating/*.yml; do
    caller="$local_repo/.github/workflows/$(basename "$(dirname "$file")")-$(basename "$file")"
    to_local "$file" "$caller"
    if grep -Eq '^[[:space:]-]*uses:[[:space:]]*chuks/publish-action' "$caller"; then
      echo "FAIL: $file calls chuks/publish-action in a form the local rewrite missed"
      failures+=("$file: remote call left")
    fi
  done
  # From inside the copy, which actionlint then takes for the repository `./` means.
  check env -C "$local_repo" actionlint -no-color
fi

if have zizmor; then
  # One file per run: given folders, zizmor only collects .github/workflows and would skip the
  # templates and examples; given a file it cannot audit, it fails ("no audit was performed").
  for file in action.yml "${github_workflows[@]}"; do
    check zizmor --offline --config zizmor.yml --no-progress --quiet --color never "$file"
  done
  # Users copy the examples without our zizmor.yml: under zizmor's default configuration the one
  # finding allowed is our own action by tag, until a release records its commit.
  mkdir -p "$work/zizmor"
  for file in ci-examples/github/*.yml docs/migrating/*.yml; do
    zizmor --offline --no-config --no-progress --color never --format json "$file" >"$work/zizmor/$(basename "$file").json" 2>/dev/null
  done
  check python3 .ci/ci_yaml.py zizmor-allowed "$work/zizmor" "$work"/zizmor/*.json
fi

if have shellcheck; then
  check shellcheck "${shell_scripts[@]}"
  # The shell embedded in the GitLab and Bitbucket YAML files.
  if python3 -c 'import ruamel.yaml' 2>/dev/null; then
    python3 .ci/ci_yaml.py scripts "$work/scripts" templates/chuks-publish/template.yml \
      "${gitlab_files[@]}" "${bitbucket_files[@]}" >/dev/null
    check shellcheck --shell=bash "$work"/scripts/*.sh
  elif [[ "$strict" == 1 ]]; then
    failures+=("ruamel.yaml not importable")
  else
    echo "SKIP: ruamel.yaml not installed (comes with check-jsonschema)"
  fi
fi

if have hadolint; then
  check hadolint templates/bitbucket/pipe/Dockerfile
fi

if ((${#failures[@]})); then
  echo "validate-integrations: ${#failures[@]} failed:"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "validate-integrations: all checks passed"
