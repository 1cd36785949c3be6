#!/usr/bin/env bash
# make static: an nginx with the module compiled in (./configure
# --add-module=nginx), installed into its own prefix.
#
#   scripts/build-static.sh PREFIX
#
# PREFIX/sbin/nginx is the binary; PREFIX holds its conf/, logs/ and html/
# as nginx's `make install` lays them out.
#
# Environment:
#   NGINX_SRC     nginx source tree or release tarball (nginx-X.Y.Z.tar.gz)
#   S3P_CORE_LIB  the Swift core archive nginx/config links
#   S3P_WORK      where the source is configured and built
#                 (default PREFIX-src; replaced on every run)
#   JOBS          make -j (default nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
prefix=${1:?usage: build-static.sh PREFIX}
src_in=${NGINX_SRC:?NGINX_SRC is not set}
core=${S3P_CORE_LIB:?S3P_CORE_LIB is not set}
work=${S3P_WORK:-$prefix-src}
jobs=${JOBS:-$(nproc)}

fail() { echo "build-static: $*" >&2; exit 1; }

. "$(dirname "$0")/nginx-source.sh"
nginx_source "$src_in" "$work"

# https credential providers need nginx's SSL, as https endpoints do
echo "build-static: $src_in, ./configure --prefix=$prefix --with-compat" \
    "--with-http_ssl_module --add-module=nginx"
if ! (cd "$work" && S3P_CORE_LIB=$core ./configure --prefix="$prefix" \
        --with-compat --with-http_ssl_module --add-module="$top/nginx") \
        > "$work.configure.log" 2>&1; then
    tail -n 20 "$work.configure.log" >&2
    fail "configure failed; full log: $work.configure.log"
fi
if ! make -C "$work" -f objs/Makefile -j"$jobs" > "$work.make.log" 2>&1; then
    tail -n 30 "$work.make.log" >&2
    fail "make failed; full log: $work.make.log"
fi
rm -rf "$prefix"
make -C "$work" -f objs/Makefile install > "$work.install.log" 2>&1 ||
    fail "make install failed; full log: $work.install.log"
rm -rf "$work"
"$prefix/sbin/nginx" -V 2>&1 | grep -q -- "--add-module=$top/nginx" ||
    fail "$prefix/sbin/nginx was not built with the module"
echo "build-static: $prefix/sbin/nginx"
