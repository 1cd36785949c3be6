#!/usr/bin/env bash
# make install: puts the built module where Debian's package puts it, for
# hosts that do not install the .deb (or for staging into DESTDIR):
#
#   $NGINX_MODULES_DIR/ngx_http_s3_proxy_module.so         (0644, stripped)
#   $NGINX_MODULES_AVAILABLE/mod-http-s3-proxy.conf        load_module line
#   $NGINX_CONF_DIR/s3_proxy.conf                          the include snippet
#   $NGINX_CONF_DIR/s3_proxy_pass.conf, s3_proxy_tls.conf  what it includes
#   $NGINX_MODULES_ENABLED/50-mod-http-s3-proxy.conf       symlink, ENABLE=1 only
#
# Settings (environment; the Makefile passes its variables):
#   DESTDIR                  staging root (default: none, i.e. /)
#   PREFIX                   /usr
#   SYSCONFDIR               /etc
#   NGINX_MODULES_DIR        $PREFIX/lib/nginx/modules
#   NGINX_MODULES_AVAILABLE  $PREFIX/share/nginx/modules-available
#   NGINX_CONF_DIR           $SYSCONFDIR/nginx
#   NGINX_MODULES_ENABLED    $NGINX_CONF_DIR/modules-enabled
#   ENABLE                   1: also create the modules-enabled symlink
#   MODULE                   the .so to install (build/ngx_http_s3_proxy_module.so)
#   STRIP                    strip (default: strip); the module is installed
#                            without its debugging information, as Debian's
#                            package installs it (dh_strip)
#
# The load_module line names the module by its absolute installed path, so
# it works whatever nginx's --prefix is.  An existing snippet file that
# differs from the shipped one is kept as <name>.old.
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
NGINX_MODULES_DIR=${NGINX_MODULES_DIR:-$PREFIX/lib/nginx/modules}
NGINX_MODULES_AVAILABLE=${NGINX_MODULES_AVAILABLE:-$PREFIX/share/nginx/modules-available}
NGINX_CONF_DIR=${NGINX_CONF_DIR:-$SYSCONFDIR/nginx}
NGINX_MODULES_ENABLED=${NGINX_MODULES_ENABLED:-$NGINX_CONF_DIR/modules-enabled}
ENABLE=${ENABLE:-0}
MODULE=${MODULE:-build/ngx_http_s3_proxy_module.so}
STRIP=${STRIP:-strip}

so=ngx_http_s3_proxy_module.so
conf=mod-http-s3-proxy.conf
link=50-$conf

test -f "$MODULE" || { echo "install: $MODULE is not built: run make" >&2; exit 1; }

install -d -m 755 "$DESTDIR$NGINX_MODULES_DIR" "$DESTDIR$NGINX_MODULES_AVAILABLE" \
    "$DESTDIR$NGINX_CONF_DIR"
install -m 644 "$MODULE" "$DESTDIR$NGINX_MODULES_DIR/$so.new"
"$STRIP" --strip-unneeded "$DESTDIR$NGINX_MODULES_DIR/$so.new"
# a new file, not an overwrite: running nginx processes map the old one
mv -f "$DESTDIR$NGINX_MODULES_DIR/$so.new" "$DESTDIR$NGINX_MODULES_DIR/$so"
echo "load_module $NGINX_MODULES_DIR/$so;" > "$DESTDIR$NGINX_MODULES_AVAILABLE/$conf"
chmod 644 "$DESTDIR$NGINX_MODULES_AVAILABLE/$conf"

for name in s3_proxy.conf s3_proxy_pass.conf s3_proxy_tls.conf; do
    snippet=$DESTDIR$NGINX_CONF_DIR/$name
    if [ -f "$snippet" ] && ! cmp -s "nginx/$name" "$snippet"; then
        cp -p "$snippet" "$snippet.old"
        echo "install: kept the previous $snippet as $snippet.old"
    fi
    install -m 644 "nginx/$name" "$snippet"
    echo "install: $snippet"
done

echo "install: $DESTDIR$NGINX_MODULES_DIR/$so"
echo "install: $DESTDIR$NGINX_MODULES_AVAILABLE/$conf"
if [ "$ENABLE" = 1 ]; then
    install -d -m 755 "$DESTDIR$NGINX_MODULES_ENABLED"
    ln -sfn "$NGINX_MODULES_AVAILABLE/$conf" "$DESTDIR$NGINX_MODULES_ENABLED/$link"
    echo "install: $DESTDIR$NGINX_MODULES_ENABLED/$link -> $NGINX_MODULES_AVAILABLE/$conf"
else
    echo "install: not enabled (ENABLE=1 links $NGINX_MODULES_ENABLED/$link," \
        "or put the load_module line in nginx.conf)"
fi
