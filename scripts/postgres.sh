#!/usr/bin/env bash
# Starts a PostgreSQL server for the store's tests and prints its URL on stdout (the only
# thing printed there; progress goes to stderr):
#
#     postgresql+psycopg://handshake:handshake@127.0.0.1:5432/handshake_test
#
# The tests read that URL from HANDSHAKE_TEST_PG_URL, and use exactly that default when
# the variable is unset. They never skip: no PostgreSQL answering there is a failure.
# Each test creates its own database (the role may CREATEDB) and drops it afterwards;
# handshake_test itself stays empty, a place to connect to.
#
# Idempotent, for Debian/Ubuntu: installs the `postgresql` package when no server is
# installed, creates a cluster when there is none, starts the first cluster when it is
# down (pg_ctlcluster: no systemd needed), creates or resets the role and the database.
# Run as root (CI) or as a user with sudo. The cluster keeps its own port (5432 for the
# package's `main` cluster); the URL printed names it.
set -euo pipefail

PG_USER=handshake
PG_PASSWORD=handshake
PG_DATABASE=handshake_test

log() { echo "postgres.sh: $*" >&2; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

as_postgres() {
    # From /, so psql does not complain that the postgres user cannot read our directory.
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && sudo -u postgres -- "$@")
    fi
}

if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || ! command -v pg_lsclusters >/dev/null; then
    log "installing postgresql"
    $SUDO apt-get update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

# The first cluster pg_lsclusters lists: version, name, port, status.
cluster() { pg_lsclusters --no-header | awk 'NR == 1 { print $1, $2, $3, $4 }'; }

if [ -z "$(cluster)" ]; then
    version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -1)
    log "creating cluster $version/main"
    $SUDO pg_createcluster "$version" main >&2
fi
read -r version name port status <<<"$(cluster)"

if [ "$status" != "online" ]; then
    log "starting cluster $version/$name on port $port"
    $SUDO pg_ctlcluster "$version" "$name" start >&2
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" >&2

# Create the role, or reset its password and rights if it exists; then the database.
as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<SQL
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
        ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    ELSE
        CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DATABASE OWNER $PG_USER'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DATABASE') \gexec
SQL

# The check the tests will make: a password login over TCP on loopback.
PGPASSWORD=$PG_PASSWORD psql -q -X -h 127.0.0.1 -p "$port" -U "$PG_USER" -d "$PG_DATABASE" \
    -c "SELECT 1" >/dev/null
log "ready: $PG_USER@127.0.0.1:$port/$PG_DATABASE"
echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DATABASE"
