# Sourced by scripts/test and scripts/warehouse-bench: a throwaway PostgreSQL cluster on
# 127.0.0.1 (password auth), from Debian's packages. Defines:
#   postgres_start [server options…]  starts it and exports ZEN_TEST_POSTGRES_DSN
#   postgres_stop                     stops it and removes its directory (from the caller's EXIT trap)
# initdb refuses to run as root, so as root the server runs as Debian's postgres user.

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

postgres_start() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pg_dir=$(mktemp -d /tmp/zen-postgres.XXXXXX)
  local port=55432 password
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  echo "$password" > "$pg_dir/pwfile"
  [ "$(id -u)" -ne 0 ] || chown -R postgres "$pg_dir"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U zen --pwfile="$pg_dir/pwfile" -A scram-sha-256 >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir $*" start >/dev/null
  export ZEN_TEST_POSTGRES_DSN="postgres://zen:$password@127.0.0.1:$port/postgres?sslmode=disable"
}

postgres_stop() {
  [ -n "${pg_dir:-}" ] || return 0
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
  pg_dir=""
}
