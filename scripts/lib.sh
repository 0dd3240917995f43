# Shared by scripts/run, scripts/test and scripts/bench (and the benchmarks it calls): make sure what they need is
# installed and running.

# Installs Debian packages with apt-get (as root, or through sudo).
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing $* with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL server binaries (initdb, pg_ctl, postgres): on PATH, under /usr/lib/postgresql/*/bin, or installed
# now from Debian's packages.
ensure_postgres() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then return 0; fi
  if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then return 0; fi
  apt_install postgresql
}

# nats-server (JetStream), the broker of the NATS relay's tests (tests/e2e/nats_relay.rs), from Debian's packages.
ensure_nats_server() {
  if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then return 0; fi
  apt_install nats-server
}

# Chromium and ChromeDriver, the headless browser the browser console's end-to-end tests drive through WebDriver
# (tests/e2e/browser.rs), from Debian's packages.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return 0; fi
  apt_install chromium chromium-driver
}

# wrk, the HTTP load generator of the benchmarks, and psql, which they use for set-up.
ensure_bench_tools() {
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
}

# schemathesis, the OpenAPI fuzzer of the contract test (tests/e2e/contract.rs), pinned, in a virtualenv of its own
# under the target directory (Python 3 and its venv module installed from Debian's packages when missing).
# Exports TALLY_SCHEMATHESIS, the path of its `st` program.
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  local venv="${CARGO_TARGET_DIR:-target}/schemathesis-$SCHEMATHESIS_VERSION"
  # A virtualenv cannot be moved (its scripts name its own path), so an interrupted install is recognised by the
  # missing marker and redone from scratch.
  if [ ! -f "$venv/installed" ]; then
    rm -rf "$venv"
    command -v python3 >/dev/null 2>&1 || apt_install python3
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt_install python3-venv
      python3 -m venv "$venv"
    fi
    echo "installing schemathesis $SCHEMATHESIS_VERSION in $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    touch "$venv/installed"
  fi
  TALLY_SCHEMATHESIS="$(cd "$venv/bin" && pwd)/st"
  export TALLY_SCHEMATHESIS
}

# A private PostgreSQL cluster for this run, in a fresh temporary directory; stopped and removed on exit.
# Sets PRIVATE_PG_URL. Needs target/$1/tally built.
start_private_postgres() {
  local profile="$1"
  PRIVATE_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tally-pg.XXXXXX")"
  chmod 755 "$PRIVATE_PG_DIR"   # as root, the cluster runs as the postgres user, which must enter it
  trap 'RUST_LOG=warn ${CARGO_TARGET_DIR:-target}/'"$profile"'/tally postgres stop --data-dir "$PRIVATE_PG_DIR" >/dev/null 2>&1 || true; rm -rf "$PRIVATE_PG_DIR"' EXIT
  PRIVATE_PG_URL="$(TALLY_LOG_FORMAT=json RUST_LOG=warn "${CARGO_TARGET_DIR:-target}/$profile/tally" postgres start --data-dir "$PRIVATE_PG_DIR")"
}

# Waits (up to 5 minutes) until no projection of the `tally serve` at base URL $1 has events left to apply
# (`GET /v1/projections`, with the key in $TALLY_BENCH_KEY), so that a measurement does not share the machine with
# the projectors.
wait_projections_caught_up() {
  local status
  for _ in $(seq 1 600); do
    status=$(curl -fs -H "Authorization: Bearer ${TALLY_BENCH_KEY:-}" "$1/v1/projections" || true)
    if [ -n "$status" ] && ! grep -q '"lag_events":[1-9]' <<<"$status"; then return 0; fi
    sleep 0.5
  done
  echo "the projections did not catch up within 5 minutes" >&2
  return 1
}

# Scans the logs in directory $1 (one file per `tally` process a test run started, see tests/e2e/harness.rs) for
# secrets: anything shaped like a Tally API key or a webhook signing secret, or a database URL with a password
# (Tally masks one as `***`). Names each file and line with one, never the line itself (it holds the secret);
# returns 1 if any was found.
scan_logs_for_secrets() {
  local dir="$1" file lines found=0
  local key='tally_[0-9A-Za-z]{38}' password='://[^/:@[:space:]"]+:[^/@[:space:]"]+@' signing='whsec_[A-Za-z0-9+/]{20,}'
  if ! compgen -G "$dir/*" >/dev/null; then
    echo "warning: no process logs in $dir to scan for secrets (no end-to-end test ran?)" >&2
    return 0
  fi
  for file in "$dir"/*; do
    lines="$(grep -nE "$key" "$file" | cut -d: -f1 | paste -sd, -)" || true
    if [ -n "$lines" ]; then
      echo "secret in the logs: $file, line(s) $lines: an API key" >&2
      found=1
    fi
    lines="$(grep -nE "$signing" "$file" | cut -d: -f1 | paste -sd, -)" || true
    if [ -n "$lines" ]; then
      echo "secret in the logs: $file, line(s) $lines: a webhook signing secret" >&2
      found=1
    fi
    lines="$(sed 's/:\*\*\*@/@/g' "$file" | grep -nE "$password" | cut -d: -f1 | paste -sd, -)" || true
    if [ -n "$lines" ]; then
      echo "secret in the logs: $file, line(s) $lines: a database URL with a password" >&2
      found=1
    fi
  done
  if [ "$found" -eq 0 ]; then
    echo "scanned $(find "$dir" -type f | wc -l) process logs: no secret" >&2
  fi
  return "$found"
}

# Starts a release `tally serve` on a free port with the arguments given, its log in file $1. Sets `server` (its pid)
# and `base` (its URL); fails, showing its log, if it does not listen within a minute.
start_release_serve() {
  local log="$1" address=""
  shift
  TALLY_LOG_FORMAT=json "${CARGO_TARGET_DIR:-target}/release/tally" serve --listen 127.0.0.1:0 "$@" 2>"$log" &
  server=$!
  for _ in $(seq 1 600); do
    address=$(grep -o '"message":"listening","address":"[^"]*"' "$log" | sed 's/.*"address":"\([^"]*\)"/\1/' || true)
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { echo "tally serve did not start; its log:" >&2; cat "$log" >&2; return 1; }
  base="http://$address"
}

# The buckets of the histogram named $3, summed over its labels, from the `/metrics` of the server at $1 (key $2):
# "le count" lines, in order.
histogram_buckets() {
  curl -fs -H "Authorization: Bearer $2" "$1/metrics" | awk -v metric="$3_bucket" 'index($0, metric) == 1 {
    match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); sum[le] += $2 }
    END { for (le in sum) print le, sum[le] }' | sort -g
}

# report_quantiles <name> <buckets before> <buckets after>: the observations made meanwhile, and their p50 and p99
# (each the upper bound of the bucket that holds it), in milliseconds.
report_quantiles() {
  awk -v name="$1" 'NR == FNR { before[$1] = $2; next }
    { le[++n] = $1; count[n] = $2 - before[$1] }
    END {
      total = count[n]
      for (i = 1; i <= n; i++) {
        if (p50 == "" && count[i] >= 0.50 * total) p50 = le[i]
        if (p99 == "" && count[i] >= 0.99 * total) p99 = le[i]
      }
      printf "name=%s events=%d p50_ms<=%s p99_ms<=%s\n", name, total, ms(p50), ms(p99)
    }
    function ms(le) { return le == "+Inf" ? "inf" : le * 1000 }' <(echo "$2") <(echo "$3")
}

# Registers the 1,000 products BENCH-0000 .. BENCH-0999 of the receipts workload (scripts/wrk/receipts.lua) on the
# server at $1, with the key in $TALLY_BENCH_KEY, 8 at a time.
add_bench_products() {
  for i in $(seq 0 999); do
    printf '{"sku": "BENCH-%04d", "name": "Bench %04d", "price": {"amount": 500, "currency": "EUR"}}\n' "$i" "$i"
  done | xargs -P 8 -d '\n' -I{} curl -fs -o /dev/null -X POST -H "Authorization: Bearer $TALLY_BENCH_KEY" \
    -H 'Content-Type: application/json' -d {} "$1/v1/products"
}
