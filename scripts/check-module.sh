#!/usr/bin/env bash
# Checks the built module for surprises at load time: it must export only
# nginx's module symbols, and every undefined symbol must come from nginx
# itself or from the system libraries it links (libc, libm, libstdc++,
# libgcc_s, OpenSSL's libcrypto): a shared object links "successfully"
# with unresolved Swift symbols.
set -euo pipefail
so=${1:-build/ngx_http_s3_proxy_module.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$so" | awk '{print $3}' | sort > "$tmp/exported"
printf '%s\n' ngx_http_s3_proxy_module ngx_module_names ngx_module_order \
    ngx_modules | sort > "$tmp/expected"
if ! cmp -s "$tmp/exported" "$tmp/expected"; then
    echo "check-module: $so exports more than the module:" >&2
    comm -23 "$tmp/exported" "$tmp/expected" | head -20 >&2
    exit 1
fi

# Every library the module depends on, as the loader resolves them.
{ ldd "$so" | awk '/=>/ {print $3}'; ldd "$so" | awk '/ld-linux/ {print $1}'; } |
while read -r lib; do
    nm -D --defined-only "$lib" | awk '{print $3}'
done | sed 's/@.*//' | sort -u > "$tmp/provided"
nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' |
    grep -Ev '^(ngx_|__gmon_start__|_ITM_)' | sort -u > "$tmp/needed"
comm -23 "$tmp/needed" "$tmp/provided" > "$tmp/unresolved"
if [ -s "$tmp/unresolved" ]; then
    echo "check-module: unresolved symbols in $so:" >&2
    head -20 "$tmp/unresolved" >&2
    exit 1
fi
# The Swift runtime is inside: no libswift*.so is needed.
if ldd "$so" | grep -q swift; then
    echo "check-module: $so needs a Swift shared library" >&2
    exit 1
fi
echo "check-module: ok: exports only the module; needs only" \
    "$(ldd "$so" | awk '/=>/ {print $1}' | tr '\n' ' ')"
