# Sourced by the bench scripts that run the service (Release, Local backend): a scratch folder $WORK that is
# removed on exit, the service stopped first, and start_service DATA PORT [ARGS...], which waits for /healthz
# (SERVICE_DLL: another build than this tree's Release one).
WORK=$(mktemp -d "/tmp/$(basename "$0" .sh)-bench-XXXXXX")
SERVICE_PID=""
cleanup() {
  if [[ -n "$SERVICE_PID" ]]; then kill "$SERVICE_PID" 2>/dev/null || true; wait "$SERVICE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_service() {
  local data=$1 port=$2
  shift 2
  dotnet "${SERVICE_DLL:-src/IngestService/bin/Release/net10.0/IngestService.dll}" --urls "http://127.0.0.1:$port" --Ingest:DataPath="$data" \
    "$@" > "$WORK/service.log" 2>&1 &
  SERVICE_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.2
  done
  echo "the service did not start; its log:" >&2
  cat "$WORK/service.log" >&2
  return 1
}
