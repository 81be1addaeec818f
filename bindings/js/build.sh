#!/usr/bin/env bash
# Builds the npm package into bindings/js/pkg/: the wasm (profile
# wasm-release), the JS glue and .d.ts for Node (CommonJS, pkg/node/) and
# for browsers (ES module, pkg/web/), then shrinks the wasm with wasm-opt
# if binaryen is installed (npm `binaryen`, in bindings/js/node_modules).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
cargo build -p cliquet-js --target wasm32-unknown-unknown --profile wasm-release
wasm="$target/wasm32-unknown-unknown/wasm-release/cliquet_js.wasm"
rm -rf "$here/pkg"
wasm-bindgen --target nodejs --out-dir "$here/pkg/node" "$wasm"
wasm-bindgen --target web --out-dir "$here/pkg/web" "$wasm"
opt=""
if [ -x "$here/node_modules/.bin/wasm-opt" ]; then opt="$here/node_modules/.bin/wasm-opt";
elif command -v wasm-opt >/dev/null; then opt=wasm-opt; fi
if [ -n "$opt" ] && [ "${CLIQUET_NO_WASM_OPT:-}" = "" ]; then
  for f in "$here"/pkg/node/cliquet_js_bg.wasm "$here"/pkg/web/cliquet_js_bg.wasm; do
    # The features rustc's wasm32 target enables by default.
    "$opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
      --enable-sign-ext --enable-mutable-globals --enable-multivalue \
      --enable-reference-types "$f" -o "$f"
  done
else
  echo "wasm-opt not found: the wasm stays as rustc wrote it" >&2
fi
cp "$here/package.template.json" "$here/pkg/package.json"
cp "$here/README.md" "$here/pkg/README.md" 2>/dev/null || true
raw=$(wc -c < "$here/pkg/web/cliquet_js_bg.wasm")
gz=$(gzip -9 -c "$here/pkg/web/cliquet_js_bg.wasm" | wc -c)
glue=$(cat "$here/pkg/web/cliquet_js.js" | gzip -9 | wc -c)
echo "cliquet_js_bg.wasm: $raw bytes raw, $gz gzipped; web glue $glue gzipped"
