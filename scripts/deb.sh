#!/usr/bin/env bash
# make deb: builds the Debian package of the module with Debian's own tooling
# (dpkg-buildpackage, debhelper compat 13, nginx-dev's dh-sequence-nginx),
# out of tree: the sources are copied to build/deb-src/<source>-<version>/,
# built there, and the .deb files land in build/:
#
#   build/libnginx-mod-http-s3-proxy_<version>_<arch>.deb
#   build/libnginx-mod-http-s3-proxy-dbgsym_<version>_<arch>.deb
#
# The checkout is not touched.  Installs the Debian build tools it needs when
# they are missing.  Settings (environment): SWIFT (the swift driver, default
# `swift` on PATH), DEB_BUILD_OPTIONS (e.g. nocheck), S3P_DEB_OUT (default
# build/).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${S3P_DEB_OUT:-$top/build}

# Debian's build tools and the module's build dependencies.
debs=(build-essential debhelper dpkg-dev fakeroot dwz nginx-dev libssl-dev)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deb: missing ${missing[*]}: apt-get install them (as root)" >&2
        exit 1
    fi
    echo "deb: installing ${missing[*]}"
    had_nginx=$(dpkg-query -W -f='${Status}' nginx-core 2>/dev/null || true)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # nginx-dev pulls in nginx, whose postinst starts the packaged service on
    # port 80; this project runs its own nginx, so that fresh service is
    # stopped again.  A service installed before is left alone.
    if [[ $had_nginx != *"ok installed"* ]] && command -v service >/dev/null &&
        service nginx status >/dev/null 2>&1; then
        echo "deb: stopping the nginx service that installing nginx-dev started"
        service nginx stop >/dev/null 2>&1 || true
    fi
fi
if ! command -v "${SWIFT:-swift}" >/dev/null; then
    echo "deb: no Swift toolchain: put swift on PATH (e.g. /opt/swift/usr/bin) or set SWIFT=" >&2
    exit 1
fi

source=$(dpkg-parsechangelog -l debian/changelog -S Source)
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
upstream=${version%-*}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
work=$out/deb-src
src=$work/$source-$upstream

# A clean copy of what the package is built from: no build outputs, no VCS.
rm -rf "$work"
mkdir -p "$src"
tar -C "$top" \
    --exclude=./.git --exclude=./.build --exclude='./.build-*' --exclude='./.build_*' \
    --exclude=./build --exclude=./.benchmarks --exclude=./.pytest_cache \
    --exclude=__pycache__ --exclude='*.pyc' \
    -cf - . | tar -C "$src" -xf -

# -b: binary packages only (no source package, so no orig tarball needed);
# -us -uc: unsigned.  Root builds need no fakeroot (Rules-Requires-Root: no).
echo "deb: dpkg-buildpackage in $src (log: $work/build.log)"
if ! (cd "$src" && dpkg-buildpackage -b -us -uc) > "$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log" >&2
    echo "deb: dpkg-buildpackage failed; full log: $work/build.log" >&2
    exit 1
fi

mkdir -p "$out"
debs_built=()
for deb in "$work"/*_"${version}"_"${arch}".deb; do
    cp "$deb" "$out/"
    debs_built+=("$out/$(basename "$deb")")
done
cp "$work/${source}_${version}_${arch}.changes" "$out/" 2>/dev/null || true
main=$out/${source}_${version}_${arch}.deb
test -f "$main" || { echo "deb: $main was not built" >&2; exit 1; }
for deb in "${debs_built[@]}"; do echo "deb: $deb"; done
dpkg-deb -f "$main" Package Version Architecture Depends | sed 's/^/deb:   /'
