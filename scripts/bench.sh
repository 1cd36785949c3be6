#!/usr/bin/env bash
# make bench: requests per second of the module's paths next to the plain
# nginx configurations that bound them, in one run on loopback:
#   (a) `return 307` with a fixed URL of presigned length
#   (b) a plain, unsigned proxy_pass to a fast local upstream (nginx
#       serving files)
#   (c) this module in front of that same upstream
# Every side has the same workers and logging.  Then the worker memory of
# (b) and (c), idle and loaded, and the module worker's growth across a
# million more redirects; and the signer alone (s3p-bench).  Several
# interleaved wrk rounds; the median of each side is printed, with the
# ratios (c)/(a) and (c)/(b) as the median of the rounds' ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
ROUNDS=${ROUNDS:-9}
DURATION=${DURATION:-4s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
# wrk sends no User-Agent, which the module takes for an S3 client's (s3cmd
# sends none) and streams: the requests name an agent, as browsers do.
WRK_AGENT="User-Agent: wrk"
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

dir=$(mktemp -d /tmp/s3p-bench.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

# The fast upstream: nginx serving files, laid out like a bucket, which
# accepts any signature (it stands for S3 and costs the same on each side).
mkdir -p "$dir/up/bkt/dir"
echo '<html><body>index</body></html>' > "$dir/up/bkt/dir/index.html"
printf '<?xml version="1.0"?><ListBucketResult></ListBucketResult>' > "$dir/up/listing.xml"

common="worker_processes $WORKERS; error_log $dir/error.log warn;
events { worker_connections 4096; }"
http_common="access_log off; keepalive_requests 1000000;
client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;"
mkdir -p "$dir/tmp"

url=$(printf 'http://127.0.0.1:19100/bkt/dir/file.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDS3PROXYBENCH%%2F20260101%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=%064d' 0)

cat > "$dir/upstream.conf" <<CONF
$common
pid $dir/upstream.pid;
http { $http_common
  server { listen 127.0.0.1:19100;
    location /bkt { root $dir/up; }
    location = /bkt { default_type application/xml; alias $dir/up/listing.xml; }
  }
}
CONF
cat > "$dir/plain.conf" <<CONF
$common
pid $dir/plain.pid;
http { $http_common
  server { listen 127.0.0.1:19101;
    location /bkt/dir/file.bin { return 307 "$url"; }
    location / { proxy_pass http://127.0.0.1:19100; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }
  }
}
CONF
cat > "$dir/module.conf" <<CONF
load_module $top/build/ngx_http_s3_proxy_module.so;
$common
pid $dir/module.pid;
http { $http_common
  server { listen 127.0.0.1:19102;
    location / { s3_proxy on; include $top/nginx/s3_proxy.conf; }
  }
}
CONF

for name in upstream plain; do
    "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/$name.conf" -g 'daemon off;' &
    pids+=($!)
done
AWS_ACCESS_KEY_ID=AKIDS3PROXYBENCH AWS_SECRET_ACCESS_KEY=bench-secret \
AWS_ENDPOINT_HOST=127.0.0.1:19100 AWS_ENDPOINT_SCHEME=http \
    "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/module.conf" -g 'daemon off;' &
pids+=($!)
sleep 1

# Each instance must be up: another server on one of the ports would
# otherwise answer in its place.
for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null || grep -q '\[emerg\]' "$dir/error.log"; then
        cat "$dir/error.log" >&2
        echo "bench: an nginx instance did not start (ports 19100-19102 in use?)" >&2
        exit 1
    fi
done

# Sanity: each side answers what it stands for.
curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:19101/bkt/dir/file.bin | grep -q 307
curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:19102/bkt/dir/file.bin | grep -q 307
curl -sf http://127.0.0.1:19101/bkt/dir/index.html | grep -q index
curl -sf http://127.0.0.1:19102/bkt/dir/index.html | grep -q index
curl -sf 'http://127.0.0.1:19102/bkt?list-type=2&prefix=dir/' | grep -q ListBucketResult

# Worker memory: RSS and private dirty pages (kB) of a master's workers.
memory() { # pidfile -> "rss_kB private_dirty_kB"
    local rss=0 dirty=0 pid
    for pid in $(pgrep -P "$(cat "$1")"); do
        rss=$((rss + $(awk '/^Rss:/ {print $2}' /proc/$pid/smaps_rollup)))
        dirty=$((dirty + $(awk '/^Private_Dirty:/ {print $2}' /proc/$pid/smaps_rollup)))
    done
    echo "$rss $dirty"
}
idle_plain=$(memory "$dir/plain.pid")
idle_module=$(memory "$dir/module.pid")

# CPU time (user + system, clock ticks) of a master's workers.
ticks() { # pidfile -> ticks
    local total=0 pid
    for pid in $(pgrep -P "$(cat "$1")"); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

run() { # port path -> requests/s, p50 latency, worker CPU us per request
    local pidfile="$dir/plain.pid" before out
    [ "$1" = 19102 ] && pidfile="$dir/module.pid"
    before=$(ticks "$pidfile")
    out=$(wrk -H "$WRK_AGENT" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$1$2")
    echo "$out" | awk -v t=$(( $(ticks "$pidfile") - before )) -v hz="$hz" '
        /Requests\/sec/ {rps=$2} /^ +50%/ {lat=$2} /requests in/ {n=$1}
        END {printf "%s %s %.2f\n", rps, lat, t * 1e6 / hz / n}'
}

# Warm-up, not counted: first connections, caches, the day's signing key.
for path in /bkt/dir/file.bin /bkt/dir/index.html '/bkt?list-type=2&prefix=dir/'; do
    for port in 19101 19102; do
        wrk -H "$WRK_AGENT" -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$port$path" >/dev/null
    done
done

declare -A results
pairs=("redirect /bkt/dir/file.bin"
       "index /bkt/dir/index.html"
       "listing /bkt?list-type=2&prefix=dir/")
for round in $(seq 1 "$ROUNDS"); do
    for pair in "${pairs[@]}"; do
        set -- $pair
        # Each round measures both sides back to back, in alternating
        # order, so that drift on a shared machine hits both alike.
        if [ $((round % 2)) -eq 1 ]; then sides="plain module"; else sides="module plain"; fi
        for side in $sides; do
            port=19101; [ "$side" = module ] && port=19102
            results[$1-$side]+="$(run "$port" "$2") "
        done
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
column() { echo "${results[$1]}" | tr ' ' '\n' | grep -v '^$' | awk -v n="$2" 'NR%3==n'; }
rps() { column "$1" 1 | median; }
lat() { column "$1" 2 | tr '\n' ' '; }
cpu() { column "$1" 0 | median; }
# The ratio of each round's pair, module over plain; the median of those.
ratios() { paste <(column "$1-module" 1) <(column "$1-plain" 1) | awk '{print $1 / $2}'; }
ratio() { ratios "$1" | median; }
spread() { ratios "$1" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}'; }

echo "s3-proxy bench: workers=$WORKERS connections=$CONNECTIONS duration=$DURATION rounds=$ROUNDS"
echo "(median req/s of each side; ratio: median of the rounds' module/plain ratios;"
echo " worker CPU: median of the rounds' worker user+system time per request; p50 latency per round)"
for pair in redirect index listing; do
    printf '%-9s plain %10.0f req/s  module %10.0f req/s  ratio %.2f (rounds %s)\n' \
        "$pair" "$(rps "$pair-plain")" "$(rps "$pair-module")" "$(ratio "$pair")" \
        "$(spread "$pair")"
    printf '          worker CPU per request: plain %s us, module %s us   (p50 plain: %s module: %s)\n' \
        "$(cpu "$pair-plain")" "$(cpu "$pair-module")" "$(lat "$pair-plain")" "$(lat "$pair-module")"
done

# Memory with and without the module, idle and after the rounds; then a
# long redirect run (a million requests or more) must not grow the worker.
loaded_plain=$(memory "$dir/plain.pid")
loaded_module=$(memory "$dir/module.pid")
printf 'memory    worker RSS / private dirty (kB): plain idle %s / %s, loaded %s / %s\n' \
    $idle_plain $loaded_plain
printf '          module idle %s / %s, loaded %s / %s\n' $idle_module $loaded_module
before=$(memory "$dir/module.pid")
total=0
while [ "$total" -lt "${MILLION:-1000000}" ]; do
    n=$(wrk -H "$WRK_AGENT" -t"$THREADS" -c"$CONNECTIONS" -d5s http://127.0.0.1:19102/bkt/dir/file.bin |
        awk '/requests in/ {print $1}')
    total=$((total + n))
done
after=$(memory "$dir/module.pid")
printf 'growth    %d redirects more: module worker RSS %s -> %s kB, private dirty %s -> %s kB\n' \
    "$total" "${before% *}" "${after% *}" "${before#* }" "${after#* }"

if grep -E '\[(alert|emerg|crit)\]|exited on signal' "$dir/error.log"; then
    echo "bench: the error log has alerts" >&2; exit 1
fi

# Cached listings (issue 15): the module's XML listing with the README's
# proxy_cache recipe next to the same module without a cache, both in
# front of the same local upstream.  Self-contained: its own instance on
# port 19109, its own rounds.  The upstream answers in microseconds; from
# S3, tens of milliseconds away, a hit saves that much more.
cached_listing_bench() {
    local round sides side port path='/bkt?list-type=2&prefix=dir/'
    local -A cache_results
    cat > "$dir/cached.conf" <<CONF
load_module $top/build/ngx_http_s3_proxy_module.so;
$common
pid $dir/cached.pid;
http { $http_common
  proxy_cache_path $dir/cache levels=1:2 keys_zone=s3:10m inactive=1h
                   use_temp_path=off;
  server { listen 127.0.0.1:19109;
    location / { s3_proxy on; include $top/nginx/s3_proxy.conf;
                 proxy_cache s3; proxy_cache_valid 200 404 10m;
                 proxy_cache_lock on; }
  }
}
CONF
    AWS_ACCESS_KEY_ID=AKIDS3PROXYBENCH AWS_SECRET_ACCESS_KEY=bench-secret \
    AWS_ENDPOINT_HOST=127.0.0.1:19100 AWS_ENDPOINT_SCHEME=http \
        "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/cached.conf" -g 'daemon off;' &
    pids+=($!)
    sleep 1
    curl -sf "http://127.0.0.1:19109$path" | grep -q ListBucketResult
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:19109$path" >/dev/null
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then sides="19102 19109"; else sides="19109 19102"; fi
        for port in $sides; do
            cache_results[$port]+="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
                "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}') "
        done
    done
    local ratios
    ratios=$(paste <(echo "${cache_results[19109]}" | tr ' ' '\n' | grep -v '^$') \
                   <(echo "${cache_results[19102]}" | tr ' ' '\n' | grep -v '^$') |
             awk '{print $1 / $2}')
    printf 'cached    listing: module %10.0f req/s, with proxy_cache %10.0f req/s, speed-up %.2f (rounds %s)\n' \
        "$(echo "${cache_results[19102]}" | median)" "$(echo "${cache_results[19109]}" | median)" \
        "$(echo "$ratios" | median)" \
        "$(echo "$ratios" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}')"
}
cached_listing_bench

"$top/.build/release/s3p-bench" "${SIGNER_ITERATIONS:-200000}"
