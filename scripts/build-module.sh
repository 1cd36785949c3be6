#!/usr/bin/env bash
# Builds ngx_http_s3_proxy_module.so for one nginx with nginx's own build
# (./configure --add-dynamic-module=nginx/, make modules).
#
#   scripts/build-module.sh OUT.so
#
# Environment:
#   NGINX_SRC   nginx source tree or release tarball (nginx-X.Y.Z.tar.gz)
#   NGINX_BIN   the nginx binary the module is for: its configure arguments
#               (nginx -V) are used, and its version must be the source's.
#               Empty: ./configure --with-compat alone.
#   S3P_CORE_LIB  the Swift core archive nginx/config links
#   S3P_WORK    where the source is configured and built
#               (default build/nginx-src; replaced on every run)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$1
src_in=${NGINX_SRC:?NGINX_SRC is not set}
bin=${NGINX_BIN:-}
work=${S3P_WORK:-$top/build/nginx-src}
core=${S3P_CORE_LIB:?S3P_CORE_LIB is not set}

fail() { echo "build-module: $*" >&2; exit 1; }

# A fresh copy of the source: a tree is copied, a tarball unpacked.
. "$(dirname "$0")/nginx-source.sh"
nginx_source "$src_in" "$work"
src_version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
    "$work/src/core/nginx.h")

args=()
if [ -n "$bin" ]; then
    [ -x "$bin" ] || fail "NGINX_BIN=$bin is not an executable"
    bin_version=$("$bin" -v 2>&1 | sed -n 's|^nginx version: [^/]*/\([^ ]*\).*|\1|p')
    if [ "$bin_version" != "$src_version" ]; then
        fail "NGINX_BIN=$bin is nginx $bin_version but NGINX_SRC=$src_in" \
            "is nginx $src_version: a module loads only into the nginx" \
            "version it was built with; use the source of $bin_version"
    fi
    # nginx -V prints the arguments as configure quoted them (a value with
    # spaces in single quotes), so the shell splits them back.
    line=$("$bin" -V 2>&1 | sed -n 's/^configure arguments: //p')
    eval "all=($line)"
    # Other modules are not built here: their sources and the libraries
    # the dynamic ones need (libxslt, libgd, perl...) may be missing.
    for a in "${all[@]}"; do
        case $a in
        --add-module=* | --add-dynamic-module=* | --with-*=dynamic) ;;
        *) args+=("$a") ;;
        esac
    done
    case " ${args[*]} " in
    *" --with-compat "*) ;;
    *) echo "build-module: $bin was built without --with-compat:" \
           "the module follows it and loads into that build only" ;;
    esac
else
    args=(--with-compat)
fi

echo "build-module: nginx $src_version, ./configure ${args[*]@Q}" \
    "--add-dynamic-module=nginx"
if ! (cd "$work" && S3P_CORE_LIB=$core ./configure "${args[@]}" \
        --add-dynamic-module="$top/nginx") > "$work.configure.log" 2>&1; then
    tail -n 20 "$work.configure.log" >&2
    fail "configure failed; full log: $work.configure.log"
fi
if ! make -C "$work" -f objs/Makefile modules > "$work.make.log" 2>&1; then
    tail -n 30 "$work.make.log" >&2
    fail "make modules failed; full log: $work.make.log"
fi
scripts/check-module.sh "$work/objs/ngx_http_s3_proxy_module.so"
# A new file, not an overwrite: running nginx processes map the old one.
mkdir -p "$(dirname "$out")"
cp "$work/objs/ngx_http_s3_proxy_module.so" "$out.new"
mv -f "$out.new" "$out"
