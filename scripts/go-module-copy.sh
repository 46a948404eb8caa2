# Sourced by the install scripts that build a Go module from source (`go install` refuses modules
# whose go.mod has replace directives, and `go build` needs a module root): go_module_copy MODULE
# VERSION DEST downloads MODULE@VERSION into the module cache (kept writable, so it stays
# removable) and copies its source to DEST, writable, ready for `go build` there.
go_module_copy() {
  local module="$1" version="$2" dest="$3" tmp dir
  tmp="$(mktemp -d)"
  export GOFLAGS=-modcacherw
  (cd "$tmp" && go mod init tmp >/dev/null 2>&1 && go mod download -json "$module@$version" >"$tmp/dl.json")
  dir="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' "$tmp/dl.json")"
  rm -rf "$tmp"
  cp -r "$dir" "$dest"
  chmod -R u+w "$dest"
}
