#!/usr/bin/env bash
# make bench: requests per second of the module's paths next to the plain
# nginx configurations that bound them, in one run on loopback:
#   (a) `return 307` with a fixed URL of presigned length
#   (b) the best plain proxy: an unsigned proxy_pass to an upstream{} with
#       a keepalive pool, in front of a fast local upstream (nginx serving
#       files), over plain HTTP and over TLS (the upstream's self-signed
#       certificate made at bench time under build/bench, verified as the
#       snippet verifies S3's, TLS sessions reused)
#   (c) this module in front of that same upstream, one instance per mode
#       (the shipped snippet; over TLS the location names that certificate
#       as its CA), with an s3_proxy_status location, so that every request
#       is counted
# measuring redirects against (a), and index pages, listings and objects
# streamed to an SDK (by User-Agent) against (b) in both modes.  Every side
# has the same workers and logging.  Then the worker memory of (b) and (c),
# idle and loaded, and the module worker's growth across a million more
# redirects; and the signer alone (s3p-bench).  Several interleaved wrk
# rounds; the median of each side is printed, with the ratios (c)/(a) and
# (c)/(b) as the median of the rounds' ratios and their range.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
ROUNDS=${ROUNDS:-9}
DURATION=${DURATION:-3s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
# the module measured (another build of it, to compare)
MODULE=${MODULE:-$top/build/ngx_http_s3_proxy_module.so}
# idle upstream connections each proxy worker keeps (the module's own pool
# is 32 per endpoint, nginx/ngx_http_s3_proxy_upstream.c)
KEEPALIVE=${KEEPALIVE:-32}
# the first of the six loopback ports the instances listen on
BASE_PORT=${BASE_PORT:-19100}
# the object streamed to SDK clients
OBJECT_KB=${OBJECT_KB:-16}
SDK_AGENT="aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5"
# wrk sends no User-Agent, which the module takes for an S3 client's (s3cmd
# sends none) and streams: the other requests name an agent, as browsers do.
WRK_AGENT="wrk"
# the upstream (HTTP, TLS), plain nginx (over HTTP, over TLS) and the
# module (over HTTP, over TLS)
up=$BASE_PORT up_tls=$((BASE_PORT + 3))
plain=$((BASE_PORT + 1)) plain_tls=$((BASE_PORT + 4))
module=$((BASE_PORT + 2)) module_tls=$((BASE_PORT + 5))
# the module with proxy_cache (cached_listing_bench)
cached=$((BASE_PORT + 9))
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

# The upstream's certificate, made once under build/bench: the TLS
# upstream's, and the CA file of both TLS proxies.
tls=$top/build/bench
if [ ! -s "$tls/cert.pem" ]; then
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=127.0.0.1 \
        -addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 \
        -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
fi

# The fast upstream: nginx serving files, laid out like a bucket, which
# accepts any signature (it stands for S3 and costs the same on each side).
mkdir -p "$dir/up/bkt/dir"
echo '<html><body>index</body></html>' > "$dir/up/bkt/dir/index.html"
head -c $((OBJECT_KB * 1024)) /dev/urandom > "$dir/up/bkt/dir/object.bin"
printf '<?xml version="1.0"?><ListBucketResult></ListBucketResult>' > "$dir/up/listing.xml"

common="worker_processes $WORKERS; error_log $dir/error.log warn;
events { worker_connections 4096; }"
http_common="access_log off; keepalive_requests 1000000;
client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp;
fastcgi_temp_path $dir/tmp; uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;"
mkdir -p "$dir/tmp"

url=$(printf 'http://127.0.0.1:%s/bkt/dir/file.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDS3PROXYBENCH%%2F20260101%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=%064d' "$up" 0)

cat > "$dir/upstream.conf" <<CONF
$common
pid $dir/upstream.pid;
http { $http_common
  server { listen 127.0.0.1:$up; listen 127.0.0.1:$up_tls ssl;
    ssl_certificate $tls/cert.pem; ssl_certificate_key $tls/key.pem;
    ssl_session_cache shared:up:1m;
    location /bkt { root $dir/up; }
    location = /bkt { default_type application/xml; alias $dir/up/listing.xml; }
  }
}
CONF
cat > "$dir/plain.conf" <<CONF
$common
pid $dir/plain.pid;
http { $http_common
  upstream up_http { server 127.0.0.1:$up; keepalive $KEEPALIVE; }
  upstream up_tls { server 127.0.0.1:$up_tls; keepalive $KEEPALIVE; }
  server { listen 127.0.0.1:$plain;
    location /bkt/dir/file.bin { return 307 "$url"; }
    location /w/ { return 307 "$url"; }
    location / { proxy_pass http://up_http; proxy_http_version 1.1;
                 proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:$plain_tls;
    location / { proxy_pass https://up_tls; proxy_http_version 1.1;
                 proxy_set_header Connection "";
                 proxy_ssl_name 127.0.0.1; proxy_ssl_server_name on;
                 proxy_ssl_verify on;
                 proxy_ssl_trusted_certificate $tls/cert.pem; }
  }
}
CONF
# The shipped snippet, in the configuration's own folder, where its
# includes are found.  Over TLS the location writes s3_proxy_tls.conf's
# lines itself, with the local CA, as a private CA is named.
cp "$top"/nginx/s3_proxy.conf "$top"/nginx/s3_proxy_pass.conf \
    "$top"/nginx/s3_proxy_tls.conf "$dir/"
for mode in http tls; do
    port=$module snippet="include s3_proxy.conf;"
    [ $mode = tls ] && port=$module_tls snippet="include s3_proxy_pass.conf;
        proxy_ssl_verify on; proxy_ssl_verify_depth 4;
        proxy_ssl_trusted_certificate $tls/cert.pem;
        proxy_ssl_server_name on; proxy_ssl_name \$s3_proxy_host;"
    cat > "$dir/module-$mode.conf" <<CONF
load_module $MODULE;
$common
pid $dir/module-$mode.pid;
http { $http_common
  server { listen 127.0.0.1:$port;
    location / { s3_proxy on; $snippet }
    location /w/ { s3_proxy on; s3_proxy_presign_window 1h; $snippet }
    location = /s3-status { s3_proxy_status; }
  }
}
CONF
done

for name in upstream plain; do
    "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/$name.conf" -g 'daemon off;' &
    pids+=($!)
done
for mode in http tls; do
    endpoint=127.0.0.1:$up scheme=http
    [ $mode = tls ] && endpoint=127.0.0.1:$up_tls scheme=https
    AWS_ACCESS_KEY_ID=AKIDS3PROXYBENCH AWS_SECRET_ACCESS_KEY=bench-secret \
    AWS_ENDPOINT_HOST=$endpoint AWS_ENDPOINT_SCHEME=$scheme \
        "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/module-$mode.conf" \
        -g 'daemon off;' &
    pids+=($!)
done
sleep 1

# Each instance must be up: another server on one of the ports would
# otherwise answer in its place.
for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null || grep -q '\[emerg\]' "$dir/error.log"; then
        cat "$dir/error.log" >&2
        echo "bench: an nginx instance did not start (ports $up-$module_tls in use?)" >&2
        exit 1
    fi
done

# Sanity: each side answers what it stands for.
curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:$plain/bkt/dir/file.bin | grep -q 307
curl -sf -o /dev/null -w '%{http_code}' http://127.0.0.1:$module/bkt/dir/file.bin | grep -q 307
for port in $plain $module $plain_tls $module_tls; do
    curl -sf http://127.0.0.1:$port/bkt/dir/index.html | grep -q index
    cmp -s <(curl -sf -A "$SDK_AGENT" http://127.0.0.1:$port/bkt/dir/object.bin) \
        "$dir/up/bkt/dir/object.bin"
done
for port in $module $module_tls; do
    curl -sf "http://127.0.0.1:$port/bkt?list-type=2&prefix=dir/" | grep -q ListBucketResult
done

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
idle_module=$(memory "$dir/module-http.pid")
idle_module_tls=$(memory "$dir/module-tls.pid")

# CPU time (user + system, clock ticks) of a master's workers.
ticks() { # pidfile -> ticks
    local total=0 pid
    for pid in $(pgrep -P "$(cat "$1")"); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

pidfile() { # port -> the pid file of the nginx listening on it
    case $1 in
        $plain|$plain_tls) echo "$dir/plain.pid" ;;
        $module) echo "$dir/module-http.pid" ;;
        $module_tls) echo "$dir/module-tls.pid" ;;
    esac
}

# Cold keys: every request another key below the path (random, per
# thread), so that no signature the worker kept is asked for again.
cat > "$dir/cold.lua" <<'LUA'
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
init = function(args) math.randomseed(os.time() * 7919 + (id or 0)) end
request = function()
  return wrk.format(nil, wrk.path .. "k" .. math.random(1, 1073741823) .. ".bin")
end
LUA

run() { # port path user-agent [cold] -> requests/s, p50 latency, worker CPU us per request
    local pidfile before out header=(-H "User-Agent: $3") script=()
    [ "${4:-}" = cold ] && script=(-s "$dir/cold.lua")
    pidfile=$(pidfile "$1")
    before=$(ticks "$pidfile")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
          "${script[@]}" "${header[@]}" "http://127.0.0.1:$1$2")
    echo "$out" | awk -v t=$(( $(ticks "$pidfile") - before )) -v hz="$hz" '
        /Requests\/sec/ {rps=$2} /^ +50%/ {lat=$2} /requests in/ {n=$1}
        END {printf "%s %s %.2f\n", rps, lat, t * 1e6 / hz / n}'
}

# What is measured: name, path, plain port, module port, User-Agent
# (sdk, or the browser's), cold keys.  redirect-hot and redirect-cold:
# s3_proxy_presign_window 1h, one key asked for again and again, and
# every request another key.
pairs=("redirect /bkt/dir/file.bin $plain $module"
       "redirect-hot /w/bkt/dir/file.bin $plain $module"
       "redirect-cold /w/bkt/dir/ $plain $module browser cold"
       "index /bkt/dir/index.html $plain $module"
       "listing /bkt?list-type=2&prefix=dir/ $plain $module"
       "object /bkt/dir/object.bin $plain $module sdk"
       "index-tls /bkt/dir/index.html $plain_tls $module_tls"
       "listing-tls /bkt?list-type=2&prefix=dir/ $plain_tls $module_tls"
       "object-tls /bkt/dir/object.bin $plain_tls $module_tls sdk")

# Warm-up, not counted: first connections, caches, the day's signing key.
for pair in "${pairs[@]}"; do
    set -- $pair
    header=(-H "User-Agent: $WRK_AGENT")
    [ "${5:-}" = sdk ] && header=(-H "User-Agent: $SDK_AGENT")
    for port in $3 $4; do
        wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "${header[@]}" \
            "http://127.0.0.1:$port$2" >/dev/null
    done
done

declare -A results
for round in $(seq 1 "$ROUNDS"); do
    for pair in "${pairs[@]}"; do
        set -- $pair
        agent=$WRK_AGENT; [ "${5:-}" = sdk ] && agent=$SDK_AGENT
        # Each round measures both sides back to back, in alternating
        # order, so that drift on a shared machine hits both alike.
        if [ $((round % 2)) -eq 1 ]; then sides="plain module"; else sides="module plain"; fi
        for side in $sides; do
            port=$3; [ "$side" = module ] && port=$4
            results[$1-$side]+="$(run "$port" "$2" "$agent" "${6:-}") "
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
echo "(plain: return 307 for redirects, else proxy_pass to an upstream with keepalive $KEEPALIVE;"
echo " -tls: both proxies reach the upstream over TLS; object: ${OBJECT_KB} KiB streamed to an SDK;"
echo " median req/s of each side; ratio: median of the rounds' module/plain ratios (their range);"
echo " worker CPU: median of the rounds' worker user+system time per request; p50 latency per round)"
for pair in "${pairs[@]}"; do
    set -- $pair
    printf '%-13s plain %9.0f req/s  module %9.0f req/s  ratio %.2f (rounds %s)\n' \
        "$1" "$(rps "$1-plain")" "$(rps "$1-module")" "$(ratio "$1")" \
        "$(spread "$1")"
    printf '            worker CPU per request: plain %s us, module %s us   (p50 plain: %s module: %s)\n' \
        "$(cpu "$1-plain")" "$(cpu "$1-module")" "$(lat "$1-plain")" "$(lat "$1-module")"
done

# Memory with and without the module, idle and after the rounds; then a
# long run of redirects for distinct keys with a presign window (a million
# requests or more, each a key of its own) must not grow the worker.
loaded_plain=$(memory "$dir/plain.pid")
loaded_module=$(memory "$dir/module-http.pid")
loaded_module_tls=$(memory "$dir/module-tls.pid")
printf 'memory      worker RSS / private dirty (kB): plain idle %s / %s, loaded %s / %s\n' \
    $idle_plain $loaded_plain
printf '            module idle %s / %s, loaded %s / %s\n' $idle_module $loaded_module
printf '            module over TLS idle %s / %s, loaded %s / %s\n' \
    $idle_module_tls $loaded_module_tls
before=$(memory "$dir/module-http.pid")
total=0
while [ "$total" -lt "${MILLION:-1000000}" ]; do
    n=$(wrk -H "User-Agent: $WRK_AGENT" -t"$THREADS" -c"$CONNECTIONS" -d5s \
        -s "$dir/cold.lua" http://127.0.0.1:$module/w/bkt/dir/ |
        awk '/requests in/ {print $1}')
    total=$((total + n))
done
after=$(memory "$dir/module-http.pid")
printf 'growth      %d redirects for distinct keys more: module worker RSS %s -> %s kB, private dirty %s -> %s kB\n' \
    "$total" "${before% *}" "${after% *}" "${before#* }" "${after#* }"

if grep -E '\[(alert|emerg|crit)\]|exited on signal' "$dir/error.log"; then
    echo "bench: the error log has alerts" >&2; exit 1
fi

# Cached listings (issue 15): the module's XML listing with the
# proxy_cache recipe of docs/caching.md next to the same module without a
# cache, both in front of the same local upstream.  Self-contained: its own instance on
# port BASE_PORT + 9, its own rounds.  The upstream answers in microseconds; from
# S3, tens of milliseconds away, a hit saves that much more.
cached_listing_bench() {
    local round sides side port path='/bkt?list-type=2&prefix=dir/'
    local -A cache_results
    cat > "$dir/cached.conf" <<CONF
load_module $MODULE;
$common
pid $dir/cached.pid;
http { $http_common
  proxy_cache_path $dir/cache levels=1:2 keys_zone=s3:10m inactive=1h
                   use_temp_path=off;
  server { listen 127.0.0.1:$cached;
    location / { s3_proxy on; include s3_proxy.conf;
                 proxy_cache s3; proxy_cache_valid 200 404 10m;
                 proxy_cache_lock on; }
  }
}
CONF
    AWS_ACCESS_KEY_ID=AKIDS3PROXYBENCH AWS_SECRET_ACCESS_KEY=bench-secret \
    AWS_ENDPOINT_HOST=127.0.0.1:$up AWS_ENDPOINT_SCHEME=http \
        "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/cached.conf" -g 'daemon off;' &
    pids+=($!)
    sleep 1
    curl -sf "http://127.0.0.1:$cached$path" | grep -q ListBucketResult
    wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$cached$path" >/dev/null
    for round in $(seq 1 "$ROUNDS"); do
        if [ $((round % 2)) -eq 1 ]; then sides="$module $cached"; else sides="$cached $module"; fi
        for port in $sides; do
            cache_results[$port]+="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
                "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ {print $2}') "
        done
    done
    local ratios
    ratios=$(paste <(echo "${cache_results[$cached]}" | tr ' ' '\n' | grep -v '^$') \
                   <(echo "${cache_results[$module]}" | tr ' ' '\n' | grep -v '^$') |
             awk '{print $1 / $2}')
    printf 'cached    listing: module %10.0f req/s, with proxy_cache %10.0f req/s, speed-up %.2f (rounds %s)\n' \
        "$(echo "${cache_results[$module]}" | median)" "$(echo "${cache_results[$cached]}" | median)" \
        "$(echo "$ratios" | median)" \
        "$(echo "$ratios" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}')"
}
cached_listing_bench

"$top/.build/release/s3p-bench" "${SIGNER_ITERATIONS:-200000}"
