#!/usr/bin/env bash
# The whole distributed topology on one machine, every role its own OS process (docs/DEPLOY.md, "A local cluster"):
# the embedded Kafka-protocol cluster, a private RabbitMQ node, a private PostgreSQL cluster (or a SQLite file), the
# HTTP collector, two extractors in one consumer group, two orchestrators (one active, one standby; one with SQLite),
# two workers and the review app.
#
#   scripts/local-cluster.sh up     [--dir DIR] [--store postgres|sqlite] [--pipeline FILE] [--cli PATH] [--app APP]
#   scripts/local-cluster.sh status [--dir DIR]
#   scripts/local-cluster.sh down   [--dir DIR]
#
# `up` prints one line per process: its name, pid, where it listens and its log. It writes DIR/cluster.env (the
# addresses, the write key and the pids, as shell variables; no passwords) for scripts and tests, and keeps every
# secret in DIR/secrets/ (owner-only). `down` stops every process with SIGTERM (SIGKILL after 30 s) and keeps DIR, so the
# data can be read afterwards; remove DIR to start from nothing. Needs Debian's rabbitmq-server, and postgresql for
# --store postgres (the default). Meant for development and tests: the Kafka cluster is in memory.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
command="${1:-}"
[ $# -gt 0 ] && shift
dir="$PWD/local-cluster"
store_kind=postgres
pipeline="$repo/pipelines/default.yaml"
cli=""
app=demo
ready_seconds=120

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
    echo "local-cluster: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --store) store_kind="$2"; shift 2 ;;
        --pipeline) pipeline="$2"; shift 2 ;;
        --cli) cli="$2"; shift 2 ;;
        --app) app="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
case "$command" in up|down|status) ;; -h|--help|help) usage; exit 0 ;; *) usage >&2; die "say up, status or down" ;; esac
case "$store_kind" in postgres|sqlite) ;; *) die "--store is postgres or sqlite, not '$store_kind'" ;; esac
dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
pids="$dir/pids"
logs="$dir/logs"
secrets="$dir/secrets"

# A port nothing on loopback listens on now, checked by connecting (bash's /dev/tcp). Taken below the kernel's ephemeral
# range when there is room: a port inside it can be handed to any outgoing connection, or to a listener on port 0, between
# this check and the service's bind.
free_port() {
    local port low=32768 first=20000 span=40000
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    if [ "$low" -gt 11024 ] 2>/dev/null; then
        first=10000
        span=$((low - first))
    fi
    for _ in $(seq 1 200); do
        port=$((first + (RANDOM * 32768 + RANDOM) % span))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "found no free port on 127.0.0.1"
}

alive() { [ -f "$pids/$1.pid" ] && kill -0 "$(cat "$pids/$1.pid")" 2>/dev/null; }

# A port for a role's Prometheus metrics and health (/metrics, /healthz), remembered for status.
metrics_port() {
    local port
    port=$(free_port)
    echo "http://127.0.0.1:$port/metrics" >"$pids/$1.listens"
    echo "$port"
}

# Runs a process of the loop in its own session, its output in logs/NAME.log, its pid in pids/NAME.pid.
start() {
    local name="$1"
    shift
    if alive "$name"; then die "$name is already running (pid $(cat "$pids/$name.pid")); run down first"; fi
    setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
    echo $! >"$pids/$name.pid"
}

# Waits until NAME's log has a line matching PATTERN and prints that line; fails with the log's tail if the process
# exits or the deadline passes.
wait_for_line() {
    local name="$1" pattern="$2" waited=0
    while ! grep -m1 -E "$pattern" "$logs/$name.log" 2>/dev/null; do
        if ! alive "$name"; then
            tail -n 30 "$logs/$name.log" >&2 || true
            die "$name exited while starting (log above: $logs/$name.log)"
        fi
        if [ "$waited" -ge $((ready_seconds * 10)) ]; then
            tail -n 30 "$logs/$name.log" >&2 || true
            die "$name was not ready within $ready_seconds s (log above: $logs/$name.log)"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

loop_cli() {
    if [ -n "$cli" ]; then
        case "$cli" in *.dll) echo "dotnet $cli" ;; *) echo "$cli" ;; esac
        return
    fi
    echo "local-cluster: building the CLI (dotnet build src/FeedbackLoop.Cli -c Release)..." >&2
    dotnet build "$repo/src/FeedbackLoop.Cli" -c Release -v q -nologo >&2 || die "the CLI did not build"
    echo "dotnet $repo/src/FeedbackLoop.Cli/bin/Release/net10.0/feedbackloop.dll"
}

start_rabbitmq() {
    local scripts="${FEEDBACKLOOP_RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}" root="$dir/rabbitmq"
    [ -x "$scripts/rabbitmq-server" ] || die "rabbitmq-server is missing: apt-get install -y rabbitmq-server (./test.sh does it)"
    mkdir -p "$root/mnesia" "$root/log" "$root/home"
    rabbit_port=$(free_port)
    local dist_port epmd_port node="flcluster-$$@localhost"
    dist_port=$(free_port)
    epmd_port=$(free_port)
    rabbit_password=$(random_secret)
    printf '%s' "$rabbit_password" >"$secrets/rabbitmq-password"
    cat >"$root/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$rabbit_port
default_user = feedbackloop
default_pass = $rabbit_password
default_vhost = /
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.console = false
log.file.level = info
EOF
    chmod 600 "$root/rabbitmq.conf"
    echo '[].' >"$root/enabled_plugins"
    : >"$root/rabbitmq-env.conf"
    # The node's own epmd on its own port, so a system RabbitMQ (5672, epmd 4369) is neither used nor disturbed.
    cat >"$root/run-node.sh" <<EOF
#!/bin/sh
epmd -port $epmd_port -address 127.0.0.1 &
until epmd -port $epmd_port -names >/dev/null 2>&1; do sleep 0.05; done
exec "$scripts/rabbitmq-server"
EOF
    start rabbitmq env -u RABBITMQ_CONFIG_FILE HOME="$root/home" ERL_EPMD_PORT="$epmd_port" ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$rabbit_port" RABBITMQ_DIST_PORT="$dist_port" \
        RABBITMQ_MNESIA_BASE="$root/mnesia" RABBITMQ_LOG_BASE="$root/log" RABBITMQ_CONFIG_FILE="$root/rabbitmq.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$root/advanced.config" RABBITMQ_CONF_ENV_FILE="$root/rabbitmq-env.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$root/enabled_plugins" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false" \
        /bin/sh "$root/run-node.sh"
    echo "$epmd_port" >"$root/epmd-port"
    local waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$rabbit_port") 2>/dev/null && grep -q "Server startup complete" "$root"/log/*.log 2>/dev/null; do
        alive rabbitmq || { tail -n 30 "$logs/rabbitmq.log" >&2; die "RabbitMQ exited while starting"; }
        [ "$waited" -lt $((ready_seconds * 10)) ] || die "RabbitMQ was not ready within $ready_seconds s ($root/log)"
        sleep 0.1
        waited=$((waited + 1))
    done
}

start_postgres() {
    local bin root="$dir/postgres"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "PostgreSQL is missing: apt-get install -y postgresql (./test.sh does it), or --store sqlite"
    # PostgreSQL refuses to run as root: then the server runs as the package's postgres user, which owns its folder
    # (and may pass through DIR, made traversable but not listable for it).
    local as_pg=()
    if [ "$(id -u)" -eq 0 ]; then
        as_pg=(runuser -u postgres --)
        chmod 711 "$dir"
    fi
    pg_port=$(free_port)
    if [ ! -d "$root/data" ]; then
        store_password=$(random_secret)
        mkdir -p "$root/socket"
        printf '%s\n' "$store_password" >"$root/initdb-password"
        [ ${#as_pg[@]} -eq 0 ] || chown -R postgres: "$root"
        "${as_pg[@]}" "$bin/initdb" -D "$root/data" -U feedbackloop --auth=scram-sha-256 --pwfile="$root/initdb-password" -E UTF8 \
            >"$logs/postgres-initdb.log" 2>&1 || { cat "$logs/postgres-initdb.log" >&2; die "initdb failed"; }
        rm -f "$root/initdb-password"
        printf '%s' "$store_password" >"$secrets/store-password"
    fi
    store_password=$(cat "$secrets/store-password")
    start postgres "${as_pg[@]}" "$bin/postgres" -D "$root/data" -p "$pg_port" -k "$root/socket" -c listen_addresses=127.0.0.1
    local waited=0
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; do
        alive postgres || { tail -n 30 "$logs/postgres.log" >&2; die "PostgreSQL exited while starting"; }
        [ "$waited" -lt $((ready_seconds * 10)) ] || die "PostgreSQL was not ready within $ready_seconds s"
        sleep 0.1
        waited=$((waited + 1))
    done
    PGPASSWORD="$store_password" "$bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U feedbackloop -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'feedbackloop'" -tA | grep -q 1 ||
        PGPASSWORD="$store_password" "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U feedbackloop feedbackloop
}

up() {
    [ ! -f "$dir/cluster.env" ] || ! alive broker || die "a cluster already runs in $dir; run down first"
    # data/datasets/ exists from the start: the review app serves an empty list until the extractors write.
    mkdir -p "$pids" "$logs" "$secrets" "$dir/data/datasets" "$dir/state"
    chmod 700 "$dir" "$secrets"
    local run
    run=$(loop_cli)
    # shellcheck disable=SC2086 # $run is "dotnet path.dll": two words on purpose
    set -- $run

    start_rabbitmq
    local job_key
    job_key=$(random_secret)
    printf '%s' "$job_key" >"$secrets/job-key"
    export FEEDBACKLOOP_RABBITMQ="amqp://feedbackloop@127.0.0.1:$rabbit_port/"
    # The processes read the password from their environment (never from the command line, which ps shows).
    export FEEDBACKLOOP_RABBITMQ_PASSWORD="$rabbit_password"
    export FEEDBACKLOOP_JOB_KEY_FILE="$secrets/job-key"
    unset FEEDBACKLOOP_JOB_KEY

    local store orchestrators
    if [ "$store_kind" = postgres ]; then
        start_postgres
        store="postgres://feedbackloop@127.0.0.1:$pg_port/feedbackloop"
        export FEEDBACKLOOP_STORE_PASSWORD_FILE="$secrets/store-password"
        unset FEEDBACKLOOP_STORE_PASSWORD
        orchestrators=2
    else
        store="$dir/state/registry.db"
        # Two orchestrators need a store they can share a lease on: SQLite is one host's file.
        orchestrators=1
    fi

    start broker "$@" broker --brokers 3 --partitions 6
    local bootstrap
    bootstrap=$(wait_for_line broker '^bootstrap=' | sed 's/^bootstrap=//')

    local key
    key=$("$@" keys create --app "$app" --keys "$secrets/keys.json" | sed -n 's/^key=//p' | head -n 1)
    [ -n "$key" ] || die "keys create printed no key"
    printf '%s' "$key" >"$secrets/write-key"

    local i
    for i in 1 2; do
        start "extractor-$i" "$@" extract --bootstrap "$bootstrap" --data "$dir/data" --pipeline "$pipeline" --verbose \
            --metrics-port "$(metrics_port "extractor-$i")"
    done
    for i in $(seq 1 "$orchestrators"); do
        start "orchestrator-$i" "$@" serve --role orchestrator --data "$dir/data" --pipeline "$pipeline" --store "$store" --sweep 500ms \
            --metrics-port "$(metrics_port "orchestrator-$i")"
        # The first takes the lease and says it is ready; the second waits as the standby (docs/DEPLOY.md, "Two
        # orchestrators, one active") and says so.
        if [ "$i" = 1 ]; then
            wait_for_line "orchestrator-$i" '^ready ' >/dev/null
        else
            wait_for_line "orchestrator-$i" 'standby orchestrator' >/dev/null
        fi
    done
    for i in 1 2; do
        start "worker-$i" "$@" serve --role worker --data "$dir/data" --pipeline "$pipeline" --worker-id "worker-$i" \
            --work-dir "$dir/worker-$i" --heartbeat 1s --metrics-port "$(metrics_port "worker-$i")"
        wait_for_line "worker-$i" '^ready ' >/dev/null
    done
    # The collector answers GET /v1/apps/{app}/model from the store, so it starts once an orchestrator has created it.
    start collector "$@" serve --role collector --bootstrap "$bootstrap" --keys "$secrets/keys.json" --store "$store" --urls http://127.0.0.1:0
    local collector_url
    collector_url=$(wait_for_line collector '^listening=' | sed 's/^listening=//')

    start review "$@" serve --role review --data "$dir/data" --urls http://127.0.0.1:0
    local review_url
    review_url=$(wait_for_line review '^listening=' | sed 's/^listening=//')
    for i in 1 2; do
        wait_for_line "extractor-$i" 'assigned|Assigned|partitions' >/dev/null
    done

    {
        echo "# written by scripts/local-cluster.sh up; secrets are in $secrets"
        echo "FEEDBACKLOOP_BOOTSTRAP=$bootstrap"
        echo "FEEDBACKLOOP_COLLECTOR_URL=$collector_url"
        echo "FEEDBACKLOOP_REVIEW_URL=$review_url"
        echo "FEEDBACKLOOP_RABBITMQ=$FEEDBACKLOOP_RABBITMQ"
        echo "FEEDBACKLOOP_STORE=$store"
        echo "FEEDBACKLOOP_DATA=$dir/data"
        echo "FEEDBACKLOOP_APP=$app"
        echo "FEEDBACKLOOP_WRITE_KEY_FILE=$secrets/write-key"
        echo "FEEDBACKLOOP_JOB_KEY_FILE=$secrets/job-key"
        [ "$store_kind" != postgres ] || echo "FEEDBACKLOOP_STORE_PASSWORD_FILE=$secrets/store-password"
        for f in "$pids"/*.pid; do
            local name
            name=$(basename "$f" .pid)
            echo "PID_$(echo "$name" | tr 'a-z-' 'A-Z_')=$(cat "$f")"
        done
    } >"$dir/cluster.env"
    status
}

listens() {
    case "$1" in
        broker) sed -n 's/^FEEDBACKLOOP_BOOTSTRAP=/kafka /p' "$dir/cluster.env" ;;
        collector) sed -n 's/^FEEDBACKLOOP_COLLECTOR_URL=//p' "$dir/cluster.env" ;;
        review) sed -n 's/^FEEDBACKLOOP_REVIEW_URL=//p' "$dir/cluster.env" ;;
        rabbitmq) sed -n 's/^FEEDBACKLOOP_RABBITMQ=//p' "$dir/cluster.env" ;;
        postgres) sed -n 's/^FEEDBACKLOOP_STORE=//p' "$dir/cluster.env" ;;
        *) if [ -f "$pids/$1.listens" ]; then cat "$pids/$1.listens"; else echo "-"; fi ;;
    esac
}

status() {
    [ -f "$dir/cluster.env" ] || die "no cluster in $dir (run up)"
    local f name state
    for f in "$pids"/*.pid; do
        name=$(basename "$f" .pid)
        if alive "$name"; then state=running; else state=stopped; fi
        printf '%-15s pid=%-8s %-8s listens=%s log=%s\n' "$name" "$(cat "$f")" "$state" "$(listens "$name")" "$logs/$name.log"
    done
}

# SIGTERM to a process's session (it drains), SIGKILL to what is left after 30 s.
stop() {
    local name="$1" pid waited=0
    alive "$name" || return 0
    pid=$(cat "$pids/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}

down() {
    [ -d "$pids" ] || die "no cluster in $dir"
    local name
    # Producers first, then the loop, then what it stands on.
    for name in review collector extractor-1 extractor-2 worker-1 worker-2 orchestrator-1 orchestrator-2 broker postgres rabbitmq; do
        stop "$name"
    done
    if [ -f "$dir/rabbitmq/epmd-port" ]; then
        epmd -port "$(cat "$dir/rabbitmq/epmd-port")" -kill >/dev/null 2>&1 || true
    fi
    echo "stopped; the data stays in $dir"
}

"$command"
