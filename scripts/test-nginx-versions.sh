#!/usr/bin/env bash
# make test-nginx-versions: for each nginx release tarball in
# NGINX_VERSIONS_DIR (nginx-X.Y.Z.tar.gz):
#
#   1. builds nginx itself, ./configure --with-compat --with-http_ssl_module
#      (nginx's default modules otherwise), into
#      NGINX_VERSIONS_CACHE/X.Y.Z/sbin/nginx (default build/nginx-versions);
#      kept while the tarball's SHA-256 is unchanged, so reruns skip it;
#   2. builds the module against that source with that binary's configure
#      arguments (scripts/build-module.sh) into
#      build/nginx-versions/X.Y.Z; kept while its inputs (the tarball, that
#      nginx, the Swift core, nginx/ and the build script) are unchanged;
#   3. runs part of the integration tests with that nginx and module:
#      every route (test_routes.py, the streamed SDK download), the shipped
#      snippet (every proxied test includes it), a reload under requests,
#      the built-in listing and upstream connection reuse (test_keepalive.py);
#   4. for the versions in STATIC_VERSIONS: builds nginx again with the
#      module compiled in (scripts/build-static.sh, ./configure
#      --add-module), into build/nginx-versions/X.Y.Z/static, and runs the
#      same tests against it (S3P_STATIC=1: no load_module).
#
# Without tarballs in NGINX_VERSIONS_DIR (a clone without ../shared) it says
# that it skipped the versions and how to run them, and succeeds, unless
# NGINX_VERSIONS_REQUIRED=1 (.ci/run): then it fails.
#
# Environment: NGINX_VERSIONS_DIR (default ../shared/nginx-src),
# NGINX_VERSIONS_REQUIRED, NGINX_VERSIONS_CACHE, S3P_CORE_LIB (the Swift
# core archive), JOBS (make -j, default nproc), TEST_JOBS (pytest
# processes, default 4), STATIC_VERSIONS (default 1.26.3; empty: none).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
dir=${NGINX_VERSIONS_DIR:-../shared/nginx-src}
core=${S3P_CORE_LIB:?S3P_CORE_LIB is not set}
jobs=${JOBS:-$(nproc)}
static_versions=${STATIC_VERSIONS-1.26.3}
test_jobs=${TEST_JOBS:-4}
modules=$top/build/nginx-versions
cache=${NGINX_VERSIONS_CACHE:-$modules}

tests=(
    Tests/integration/test_routes.py
    "Tests/integration/test_streaming_clients.py::test_boto3_get_object_streams_the_bytes"
    "Tests/integration/test_streaming_clients.py::test_curl_gets_the_307_for_an_object_sdks_get_streamed"
    "Tests/integration/test_loading.py::test_five_reloads_while_requests_flow_fail_no_request"
    "Tests/integration/test_browsing.py::test_files_folder_lists_folders_then_files_with_sizes"
    "Tests/integration/test_browsing.py::test_large_folder_pages_reach_every_key_once"
    "Tests/integration/test_browsing.py::test_existing_index_pages_take_precedence"
    "Tests/integration/test_browsing.py::test_listing_off_by_default"
    Tests/integration/test_keepalive.py
)

shopt -s nullglob
tarballs=("$dir"/nginx-*.tar.gz)
if [ ${#tarballs[@]} -eq 0 ]; then
    if [ "${NGINX_VERSIONS_REQUIRED:-}" = 1 ]; then
        echo "test-nginx-versions: no nginx-*.tar.gz in $dir" >&2
        exit 1
    fi
    echo "test-nginx-versions: SKIPPED the nginx version tests: no" \
        "nginx-*.tar.gz in $dir."
    echo "test-nginx-versions: to run them, put nginx release tarballs" \
        "(nginx-X.Y.Z.tar.gz) in a folder and run:"
    echo "    make test-nginx-versions NGINX_VERSIONS_DIR=/path/to/that/folder"
    exit 0
fi

passed=()
for tarball in "${tarballs[@]}"; do
    name=$(basename "$tarball" .tar.gz)
    version=${name#nginx-}
    out=$cache/$version
    bin=$out/sbin/nginx
    sum=$(sha256sum "$tarball" | awk '{print $1}')

    if [ -x "$bin" ] && [ "$(cat "$out/tarball.sha256" 2>/dev/null)" = "$sum" ]; then
        echo "test-nginx-versions: nginx $version: $bin (cached)"
    else
        echo "test-nginx-versions: nginx $version: building $bin"
        rm -rf "$out"
        mkdir -p "$out/src" "$out/sbin"
        tar -xf "$tarball" -C "$out/src" --strip-components=1
        if ! (cd "$out/src" &&
              ./configure --prefix="$out" --with-compat --with-http_ssl_module &&
              make -j"$jobs") > "$out/build.log" 2>&1; then
            tail -n 30 "$out/build.log" >&2
            echo "test-nginx-versions: building nginx $version failed;" \
                "full log: $out/build.log" >&2
            exit 1
        fi
        cp "$out/src/objs/nginx" "$bin"
        rm -rf "$out/src"
        echo "$sum" > "$out/tarball.sha256"
    fi

    mod=$modules/$version/ngx_http_s3_proxy_module.so
    inputs=$( (echo "$sum"; sha256sum "$bin" "$core" scripts/build-module.sh;
               find nginx -type f | LC_ALL=C sort | xargs sha256sum) |
             sha256sum | awk '{print $1}')
    if [ -f "$mod" ] && [ "$(cat "$mod.inputs" 2>/dev/null)" = "$inputs" ]; then
        echo "test-nginx-versions: nginx $version: $mod (cached)"
    else
        mkdir -p "$modules/$version"
        rm -f "$mod.inputs"
        NGINX_SRC=$tarball NGINX_BIN=$bin S3P_CORE_LIB=$core \
            S3P_WORK=$modules/$version/module-src \
            scripts/build-module.sh "$mod"
        rm -rf "$modules/$version/module-src"
        echo "$inputs" > "$mod.inputs"
    fi

    echo "test-nginx-versions: nginx $version: integration tests"
    NGINX_BIN=$bin S3P_MODULE=$mod \
        python3 -m pytest -q -p no:cacheprovider -n "$test_jobs" --dist worksteal \
            "${tests[@]}"
    passed+=("$version")

    case " $static_versions " in
    *" $version "*)
        echo "test-nginx-versions: nginx $version with the module compiled in"
        NGINX_SRC=$tarball S3P_CORE_LIB=$core JOBS=$jobs \
            scripts/build-static.sh "$modules/$version/static"
        NGINX_BIN=$modules/$version/static/sbin/nginx S3P_STATIC=1 \
            python3 -m pytest -q -p no:cacheprovider -n "$test_jobs" \
                --dist worksteal "${tests[@]}"
        passed+=("$version(static)")
        ;;
    esac
done
echo "test-nginx-versions: passed with nginx ${passed[*]}"
