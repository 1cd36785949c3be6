# Sourced by build-module.sh and build-static.sh: a fresh copy of nginx's
# source in $2 from $1, a tree (copied) or a release tarball (unpacked);
# calls the sourcing script's fail() when it is neither, or not nginx.
nginx_source() {
    local src=$1 work=$2
    rm -rf "$work"
    mkdir -p "$work"
    if [ -d "$src" ]; then
        cp -r "$src"/. "$work"
    elif [ -f "$src" ]; then
        tar -xf "$src" -C "$work" --strip-components=1
    else
        fail "NGINX_SRC=$src is neither a directory nor a tarball"
    fi
    [ -x "$work/configure" ] && [ -f "$work/src/core/nginx.h" ] ||
        fail "NGINX_SRC=$src has no ./configure and src/core/nginx.h"
}
