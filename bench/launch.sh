# Sourced by bench/gc-ab.sh and bench/perf-profile.sh: `launch NAME PORT [VAR=VALUE] COMMAND...` starts COMMAND (with
# VAR set, its output in $WORK/NAME.log), records its pid and port in PID[NAME], PORT[NAME] and PIDS, and waits until
# it answers /healthz on PORT.
declare -A PID PORT
launch() {
  local name=$1 port=$2
  shift 2
  env "$@" > "$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  PORT[$name]=$port
  PIDS+=("$!")
  for _ in $(seq 60); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
    sleep 0.5
  done
  echo "$name did not start (see its log)" >&2
  cat "$WORK/$name.log" >&2
  return 1
}
