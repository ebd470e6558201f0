#!/usr/bin/env bash
# Runs a throw-away PostgreSQL cluster for trying store/postgres by hand (the
# Go tests start their own, see store/postgres/pgtest). It listens only on a
# unix socket in a new temporary directory, prints the DSN and the password
# file for the role "mfagate" (owner of the database "mfagate"), and removes
# everything again on Ctrl-C. As root the server runs as the postgres user.
#
#   bash scripts/pgtest.sh            # then, in another shell, use the DSN it prints
set -euo pipefail

bin=${MFAGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n | tail -n1)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL server binaries not found: run scripts/deps.sh or set MFAGATE_PG_BIN" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/mfagate-pg-XXXXXX")
as_server=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_server=(runuser -u postgres --)
fi
pid=
cleanup() {
  if [ -n "$pid" ]; then
    # Fast shutdown, sent to the server itself: runuser does not pass SIGINT on.
    if [ -s "$dir/data/postmaster.pid" ]; then
      kill -INT "$(head -n1 "$dir/data/postmaster.pid")" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"${as_server[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log"
printf 'local all postgres trust\nlocal all all scram-sha-256\n' >"$dir/data/pg_hba.conf"
[ ${#as_server[@]} -eq 0 ] || chown postgres: "$dir/data/pg_hba.conf"

"${as_server[@]}" "$bin/postgres" -D "$dir/data" -k "$dir" -p 5432 -c listen_addresses= \
  -c fsync=off -c synchronous_commit=off >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  "$bin/pg_isready" -q -h "$dir" -p 5432 && break
  sleep 0.1
done
"$bin/pg_isready" -q -h "$dir" -p 5432 || { cat "$dir/server.log" >&2; exit 1; }

password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$password" >"$dir/password"
chmod 600 "$dir/password"
# psql's :'var' quotes the password as a literal; it never appears in the SQL text.
"$bin/psql" -q -X -v ON_ERROR_STOP=1 -h "$dir" -p 5432 -U postgres -d postgres -v pw="$password" <<'SQL'
CREATE ROLE mfagate LOGIN PASSWORD :'pw';
CREATE DATABASE mfagate OWNER mfagate;
SQL

cat <<EOF
PostgreSQL is running (log: $dir/server.log).
  DSN:           host=$dir port=5432 user=mfagate dbname=mfagate sslmode=disable
  password file: $dir/password
  psql:          $bin/psql -h $dir -p 5432 -U postgres mfagate
Ctrl-C stops it and removes $dir.
EOF
wait "$pid"
