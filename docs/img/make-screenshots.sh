#!/usr/bin/env bash
# Remakes docs/img/{pprof-flamegraph,pprof-graph,dh_view}.png from a real run
# of kv-service (docs/img/kv-service): its live heap written by
# Report::write_pprof and Report::write_dhat, opened in `go tool pprof -http`
# and in Valgrind's dh_view.html, photographed by headless Chromium.
# Needs Debian's golang-go, graphviz, valgrind, chromium (and pngquant to
# shrink the pictures, optional).
set -euo pipefail
img="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$img/../.." && pwd)"
work="$root/target/kv-service"
mkdir -p "$work/out" "$work/dh_view"
cp "$root/Cargo.lock" "$img/kv-service/Cargo.lock"
# Source paths as the repository names them, not this machine's checkout.
RUSTFLAGS="-C force-frame-pointers=yes --remap-path-prefix=$img/kv-service=docs/img/kv-service" \
    CARGO_TARGET_DIR="$work" \
    cargo build --release --offline --quiet --manifest-path "$img/kv-service/Cargo.toml"
rm -f "$img/kv-service/Cargo.lock"
(cd "$work/out" && ../release/kv-service .)

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --hide-scrollbars --allow-file-access-from-files --virtual-time-budget=5000
    "--user-data-dir=$work/chromium")

# pprof's web UI on a loopback port.
port=18089
HOME="$work" PPROF_TMPDIR="$work" go tool pprof -http="127.0.0.1:$port" -no_browser \
    "$work/out/heap.pb.gz" >"$work/pprof-http.log" 2>&1 &
pprof=$!
trap 'kill $pprof 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q "Serving web UI" "$work/pprof-http.log" && break
    sleep 0.2
done
"${chrome[@]}" --window-size=1200,420 --screenshot="$img/pprof-flamegraph.png" \
    "http://127.0.0.1:$port/ui/flamegraph?si=inuse_space" 2>/dev/null
"${chrome[@]}" --window-size=1200,800 --screenshot="$img/pprof-graph.png" \
    "http://127.0.0.1:$port/ui/?si=inuse_space" 2>/dev/null

# dh_view.html with the file loaded as its "Load..." button would, sorted by bytes.
dhv="$(dirname "$(dpkg -L valgrind | grep '/dh_view.html$')")"
cp "$dhv/dh_view.js" "$dhv/dh_view.css" "$work/dh_view/"
python3 - "$dhv/dh_view.html" "$work/out/dhat-heap.json" "$work/dh_view/view.html" <<'PY'
import sys
html, data, out = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
loader = ("<script>window.addEventListener('load', () => setTimeout(() => {\n"
          "gFilename = 'dhat-heap.json'; gSelect.selectedIndex = 0;\n"
          "tryFunc(() => { gData = " + data.replace("</", "<\\/") +
          "; buildTree(); displayTree(0, 0, 0); });\n}, 0));</script>\n</head>")
open(out, "w").write(html.replace("</head>", loader, 1))
PY
"${chrome[@]}" --window-size=1000,760 --screenshot="$img/dh_view.png" \
    "file://$work/dh_view/view.html" 2>/dev/null

if command -v pngquant >/dev/null; then
    for f in pprof-flamegraph pprof-graph dh_view; do
        pngquant --force --quality=60-85 --output "$img/$f.png" "$img/$f.png"
    done
fi
ls -l "$img"/*.png
