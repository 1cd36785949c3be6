#!/usr/bin/env bash
# make run: NGINX_BIN (default Debian's /usr/sbin/nginx) in the foreground
# with the module built in build/, configured from the environment (AWS_*),
# listening on PORT.
# Without AWS_ACCESS_KEY_ID a local demo S3 (moto behind a strict SigV4
# check, seeded with a `demo` bucket) starts on DEMO_S3_PORT and the proxy
# points at it.  The error log goes to stderr, the access log to stdout.
# Ctrl-C stops everything this started.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
PORT=${PORT:-8080}
WORKERS=${WORKERS:-auto}
LOG_LEVEL=${LOG_LEVEL:-notice}
DEMO_S3_PORT=${DEMO_S3_PORT:-9000}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
prefix=$top/build/run
mkdir -p "$prefix/logs" "$prefix/tmp"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${AWS_ACCESS_KEY_ID:-}" ]; then
    export AWS_ACCESS_KEY_ID=AKIDS3PROXYDEMO
    export AWS_SECRET_ACCESS_KEY=s3-proxy-demo-secret
    export AWS_DEFAULT_REGION=us-east-1
    export AWS_ENDPOINT_HOST=127.0.0.1:$DEMO_S3_PORT
    export AWS_ENDPOINT_SCHEME=http
    unset AWS_SESSION_TOKEN AWS_ENDPOINT_HOST_EXTERNAL
    rm -f "$prefix/s3.ready"
    python3 demo/s3server.py --port "$DEMO_S3_PORT" --seed demo \
        --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
        --ready-file "$prefix/s3.ready" >&2 &
    pids+=($!)
    for _ in $(seq 1 300); do
        [ -s "$prefix/s3.ready" ] && break
        kill -0 "${pids[0]}" 2>/dev/null || { echo "run: the demo S3 did not start" >&2; exit 1; }
        sleep 0.1
    done
    echo "run: demo S3 on http://127.0.0.1:$DEMO_S3_PORT (bucket \"demo\")" >&2
fi

# The example configuration, with this checkout's module, port and paths.
sed -e "s|^load_module .*|load_module $top/build/ngx_http_s3_proxy_module.so;|" \
    -e "s|^worker_processes .*|worker_processes $WORKERS;|" \
    -e "s|^error_log .*|error_log stderr $LOG_LEVEL;|" \
    -e "s|^pid .*|pid $prefix/nginx.pid;|" \
    -e "s|^    access_log .*|    access_log /dev/stdout;\n    client_body_temp_path $prefix/tmp/body;\n    proxy_temp_path $prefix/tmp/proxy;\n    fastcgi_temp_path $prefix/tmp/fastcgi;\n    uwsgi_temp_path $prefix/tmp/uwsgi;\n    scgi_temp_path $prefix/tmp/scgi;|" \
    -e "s|^        listen .*|        listen $PORT;|" \
    nginx/example.conf > "$prefix/nginx.conf"
cp nginx/s3_proxy.conf nginx/s3_proxy_pass.conf nginx/s3_proxy_tls.conf "$prefix/"
# A resolver is needed only for a named endpoint; use the system's.
if [[ "${AWS_ENDPOINT_HOST:-}" =~ ^(\[|[0-9.]+(:|$)) ]]; then
    sed -i '/^    resolver/d' "$prefix/nginx.conf"
else
    ns=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf 2>/dev/null || true)
    sed -i "s|resolver 127.0.0.53|resolver ${ns:-127.0.0.53}|" "$prefix/nginx.conf"
fi

echo "run: nginx with s3_proxy on http://127.0.0.1:$PORT/ (Ctrl-C stops)" >&2
[ -z "${AWS_ENDPOINT_HOST_EXTERNAL:-}" ] && [ "${AWS_ENDPOINT_HOST:-}" = "127.0.0.1:$DEMO_S3_PORT" ] &&
    echo "run: try http://127.0.0.1:$PORT/demo/ in a browser" >&2
"$NGINX_BIN" -e stderr -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait "${pids[-1]}"
