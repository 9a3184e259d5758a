# chuks-ci's publish options, from the CI's variables, at their defaults when unset or empty.
chuks_fail() {
  printf 'error: %s\nhint: %s\n' "$1" "$2" >&2
  exit "${3:-1}"
}
chuks_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}
<% for option in options %>
: "${<{ option.variable }>:=<{ option.default | sh_quoted }>}"
<% endfor %>
