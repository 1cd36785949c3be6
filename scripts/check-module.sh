#!/usr/bin/env bash
# Checks the built module for surprises at load time: it must export only
# nginx's module symbols; every undefined symbol must come from nginx itself
# or from the libraries it needs; and it needs exactly libc (with glibc's
# dynamic loader, which provides __tls_get_addr), libcrypto and, if used,
# libm; its few libssl calls (the https providers' SNI and certificate
# verdict) bind to the libssl of the nginx that loads it (NGINX_BIN): no
# Swift runtime library, no libstdc++, no libgcc_s (the Swift core
# is built with Embedded Swift).  Stripped, it must stay under MAX_KB
# (default 512) KB.  A shared object links "successfully" with unresolved
# Swift symbols.
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
# nginx's own libraries too: the process the module is loaded into.
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
{ ldd "$so" | awk '/=>/ {print $3}'; ldd "$so" | awk '/ld-linux/ {print $1}'
  ldd "$nginx_bin" | awk '/=>/ {print $3}'; } |
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
# What the loader must find: libc, libcrypto, and nothing else but libm.
readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort > "$tmp/libs"
unexpected=$(grep -Ev '^(libc\.so\.6|ld-linux-[a-z0-9_-]+\.so\.[0-9]+|libm\.so\.6|libcrypto\.so\.3)$' \
    "$tmp/libs" || true)
if [ -n "$unexpected" ] || ! grep -qx 'libc\.so\.6' "$tmp/libs" ||
    ! grep -qx 'libcrypto\.so\.3' "$tmp/libs"; then
    echo "check-module: $so needs" $(cat "$tmp/libs") >&2
    echo "check-module: expected libc.so.6, libcrypto.so.3 (and libm.so.6)" >&2
    exit 1
fi
if readelf -d "$so" | grep -q TEXTREL; then
    echo "check-module: $so has text relocations (code that is not PIC)" >&2
    exit 1
fi

max_kb=${MAX_KB:-512}
strip -o "$tmp/stripped.so" "$so"
size=$(stat -c %s "$tmp/stripped.so")
if [ "$size" -ge $((max_kb * 1024)) ]; then
    echo "check-module: $so is $size bytes stripped, over $max_kb KB" >&2
    exit 1
fi
echo "check-module: ok: exports only the module; needs only" \
    $(cat "$tmp/libs")"; $((size / 1024)) KB stripped"
