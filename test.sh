#!/usr/bin/env bash
# Runs every test of the solution: unit, contract, Parquet, the integration tests against the in-process
# Kafka cluster, and the RabbitMQ tests, which start a private RabbitMQ node of their own (own node name,
# data folder and ports; a system RabbitMQ, if any, is neither used nor disturbed).
# Needs the .NET 10 SDK and Debian's rabbitmq-server; when rabbitmq-server is missing this script installs
# it with apt-get (as root, or through sudo) without starting its system service. Node and npm (Debian's nodejs,
# npm) are installed the same way when missing; the export tests fetch npm's apache-arrow with them. Debian's
# chromium is installed the same way for the review app's browser tests, and Debian's docker-compose for the compose
# file test. Debian's postgresql is installed the same way (without starting its service) for the store tests, which
# run a private PostgreSQL server of their own (own cluster in a temp folder, own port and socket folder).
set -euo pipefail
cd "$(dirname "$0")"

# Where Debian's package puts the scripts the tests run (FEEDBACKLOOP_RABBITMQ_SBIN points the tests
# at a RabbitMQ installed some other way; then nothing is installed here).
debian_rabbitmq=/usr/lib/rabbitmq/bin/rabbitmq-server

install_rabbitmq() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "test.sh: rabbitmq-server is missing and this user can neither install it nor sudo;" >&2
            echo "         run 'apt-get install -y rabbitmq-server' as root, then ./test.sh again." >&2
            exit 1
        fi
        sudo=(sudo)
    fi

    echo "test.sh: installing Debian's rabbitmq-server (the RabbitMQ tests run a private node from it)..."
    local log added_policy=""
    log=$(mktemp)
    # The tests never use the system service; policy-rc.d keeps the package from starting it (and from
    # taking ports 5672 and 4369) while it installs. An existing policy-rc.d is left as it is.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local status=0
    {
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server
    } >"$log" 2>&1 || status=$?
    if [ -n "$added_policy" ]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
    if [ "$status" -ne 0 ] || [ ! -x "$debian_rabbitmq" ]; then
        cat "$log" >&2
        echo "test.sh: installing rabbitmq-server failed (apt output above)" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

if [ -z "${FEEDBACKLOOP_RABBITMQ_SBIN:-}" ] && [ ! -x "$debian_rabbitmq" ]; then
    install_rabbitmq
fi

# The store tests run every registry, job store and rollout test on PostgreSQL too, against a private server started from
# Debian's package (FEEDBACKLOOP_POSTGRES_BIN points them at a PostgreSQL installed some other way; then nothing is
# installed here). As for RabbitMQ, policy-rc.d keeps the package from starting its system cluster on port 5432.
# (Debian 12 ships PostgreSQL 15 under /usr/lib/postgresql/15; another release, another number: any is found.)
debian_postgres_found() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }
if [ -z "${FEEDBACKLOOP_POSTGRES_BIN:-}" ] && ! debian_postgres_found; then
    echo "test.sh: installing Debian's postgresql (the store tests run a private server from it)..."
    pg_sudo=()
    if [ "$(id -u)" -ne 0 ]; then pg_sudo=(sudo); fi
    pg_log=$(mktemp)
    pg_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${pg_sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${pg_sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
        pg_policy=1
    fi
    pg_status=0
    {
        "${pg_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${pg_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
    } >"$pg_log" 2>&1 || pg_status=$?
    if [ -n "$pg_policy" ]; then "${pg_sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
    if [ "$pg_status" -ne 0 ] || ! debian_postgres_found; then
        cat "$pg_log" >&2
        echo "test.sh: installing postgresql failed (apt output above)" >&2
        rm -f "$pg_log"
        exit 1
    fi
    rm -f "$pg_log"
fi

# The export tests read Arrow files with the npm apache-arrow package under node (a reader we did not write); the test
# installs the package itself (npm ci, pinned by its package-lock.json), so only node and npm come from Debian here.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "test.sh: installing Debian's nodejs and npm (the export tests read Arrow files with npm's apache-arrow)..."
    node_sudo=()
    if [ "$(id -u)" -ne 0 ]; then node_sudo=(sudo); fi
    "${node_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    "${node_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
fi

# The review app's browser tests (tests/FeedbackLoop.BrowserTests) drive Debian's chromium headless through
# Playwright's bundled driver; no browser is downloaded, so only the Debian package is needed here.
if [ ! -x /usr/bin/chromium ]; then
    echo "test.sh: installing Debian's chromium (the review app's browser tests run it headless)..."
    chromium_sudo=()
    if [ "$(id -u)" -ne 0 ]; then chromium_sudo=(sudo); fi
    "${chromium_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    "${chromium_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
fi

# The compose file test (ComposeFileTests) validates docker-compose.yml with Debian's docker-compose (1.29), which needs
# no Docker engine for `config`; images are never pulled.
if [ ! -x /usr/bin/docker-compose ]; then
    echo "test.sh: installing Debian's docker-compose (the compose file test runs 'docker-compose config')..."
    compose_sudo=()
    if [ "$(id -u)" -ne 0 ]; then compose_sudo=(sudo); fi
    "${compose_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    "${compose_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker-compose >/dev/null
fi

dotnet build FeedbackLoop.sln -c Release
# A test that hangs fails after 6 minutes and names itself, instead of holding the run until CI's limit.
dotnet test FeedbackLoop.sln -c Release --no-build --logger "console;verbosity=minimal" \
    --blame-hang --blame-hang-timeout 6m --blame-hang-dump-type none
