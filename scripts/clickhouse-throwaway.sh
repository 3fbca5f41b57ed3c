# Sourced by scripts/test and scripts/warehouse-bench: a throwaway ClickHouse (Debian's
# clickhouse-server, 18.16) on 127.0.0.1 only, from a config written into a temp dir, with a
# user `zen` that needs a password. Defines:
#   clickhouse_start   starts it and exports ZEN_TEST_CLICKHOUSE_URL, _USER, _PASSWORD
#   clickhouse_stop    stops it and removes its directory (call it from the caller's EXIT trap)
# Needs bash; nothing here is run on its own.

clickhouse_free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

clickhouse_start() {
  ch_dir=$(mktemp -d /tmp/zen-clickhouse.XXXXXX)
  local http_port tcp_port password
  http_port=$(clickhouse_free_port 58123)
  tcp_port=$(clickhouse_free_port $((http_port + 1)))
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  mkdir -p "$ch_dir/data" "$ch_dir/tmp" "$ch_dir/user_files" "$ch_dir/format_schemas" "$ch_dir/log"
  # 18.16 wants every path it writes to (data, tmp, user files, logs) and refuses none of
  # them missing; interserver and https ports are left out so that nothing else listens.
  cat > "$ch_dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$ch_dir/log/server.log</log><errorlog>$ch_dir/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$ch_dir/data/</path>
  <tmp_path>$ch_dir/tmp/</tmp_path>
  <user_files_path>$ch_dir/user_files/</user_files_path>
  <format_schema_path>$ch_dir/format_schemas/</format_schema_path>
  <users_config>$ch_dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>20</max_concurrent_queries>
  <!-- Every query's own duration, for scripts/warehouse-bench (the engine's time for the exporter's GROUP BY). -->
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
</yandex>
EOF
  cat > "$ch_dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><max_threads>2</max_threads><log_queries>1</log_queries></default></profiles>
  <users>
    <zen>
      <password_sha256_hex>$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)</password_sha256_hex>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </zen>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
  local as_ch=()
  # The server refuses to run as root over files another user owns: as root, Debian's clickhouse user.
  if [ "$(id -u)" -eq 0 ]; then chown -R clickhouse "$ch_dir"; as_ch=(runuser -u clickhouse --); fi
  "${as_ch[@]}" clickhouse-server --config-file="$ch_dir/config.xml" --pid-file="$ch_dir/server.pid" \
    >"$ch_dir/log/stdout.log" 2>&1 &
  ch_pid=$!
  local tries=0
  until curl -fsS "http://127.0.0.1:$http_port/ping" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 120 ] || ! kill -0 "$ch_pid" 2>/dev/null; then
      echo "ClickHouse did not start; its log:" >&2
      tail -20 "$ch_dir/log/server.err.log" "$ch_dir/log/stdout.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  export ZEN_TEST_CLICKHOUSE_URL="http://127.0.0.1:$http_port"
  export ZEN_TEST_CLICKHOUSE_USER=zen
  export ZEN_TEST_CLICKHOUSE_PASSWORD="$password"
  export ZEN_TEST_CLICKHOUSE_TCP_PORT="$tcp_port"
}

clickhouse_stop() {
  # The server's own pid (runuser's child as root), then runuser: SIGTERM, 10 s, SIGKILL.
  local server=""
  [ -z "${ch_dir:-}" ] || server=$(cat "$ch_dir/server.pid" 2>/dev/null || true)
  for pid in $server ${ch_pid:-}; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0
    for pid in $server ${ch_pid:-}; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 1 ] || break
    sleep 0.25
  done
  for pid in $server ${ch_pid:-}; do kill -9 "$pid" 2>/dev/null || true; done
  ch_pid=""
  [ -z "${ch_dir:-}" ] || rm -rf "$ch_dir"
}
