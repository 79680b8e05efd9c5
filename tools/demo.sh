#!/usr/bin/env bash
# make demo: the main job on the embedded stack, start to finish.
#
# Starts the embedded Kafka broker and a local Valkey/Redis, runs the
# processor and the notifier, streams an hour of synthetic CloudFront
# traffic (12 distributions, one injected request spike) through Kafka,
# prints the alert the notifier delivers, then stops everything.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source tests/lib/stack.sh
EW=build/edgewatch

say() { printf '\n== %s\n' "$*"; }

say "starting the embedded stack (edgewatch dev-kafka + $(command -v valkey-server >/dev/null && echo valkey-server || echo redis-server))"
stack_up 4 >/dev/null || { echo "demo: could not start the embedded stack" >&2; exit 1; }
echo "kafka at $KAFKA_BOOTSTRAP, valkey at 127.0.0.1:$VALKEY_PORT, work dir $STACK_DIR"

d=$STACK_DIR
start=$(date -u -d "@$(( $(date +%s) / 60 * 60 - 3600 ))" +%Y-%m-%dT%H:%M:%SZ)
"$EW" gen --scenario spike --seed 42 --start "$start" --out /dev/null \
    --labels "$d/labels.jsonl" --metadata-out "$d/meta.json" 2>/dev/null
cat > "$d/demo.json" <<JSON
{
  "kafka": {"bootstrap.servers": "$KAFKA_BOOTSTRAP"},
  "valkey": {"host": "127.0.0.1", "port": $VALKEY_PORT},
  "metadata": "$d/meta.json"
}
JSON

say "starting edgewatch run and edgewatch-notify"
"$EW" run -c "$d/demo.json" 2> "$d/run.err" &
run_pid=$!
stack_track $run_pid
build/edgewatch-notify -c "$d/demo.json" > "$d/notify.out" 2> "$d/notify.err" &
stack_track $!

say "streaming one hour of CloudFront real-time logs into Kafka"
"$EW" gen --scenario spike --seed 42 --start "$start" --to-kafka "$KAFKA_BOOTSTRAP"
python3 - "$d/labels.jsonl" <<'PY'
import json, sys, datetime
for l in open(sys.argv[1]):
    a = json.loads(l)
    t = datetime.datetime.fromtimestamp(a["start"] / 1000, datetime.timezone.utc).strftime("%H:%M")
    print(f"injected: {a['rule']} x{a['multiplier']} on {a['entity_id']} ({a['project']}) from {t} UTC")
PY

say "waiting for the notifier (up to 60 s)"
for _ in $(seq 120); do
    grep -q '^FIRING' "$d/notify.out" && break
    sleep 0.5
done
sleep 1
kill -TERM $run_pid 2>/dev/null
wait $run_pid 2>/dev/null
say "what edgewatch-notify delivered"
cat "$d/notify.out"
grep 'stopped:' "$d/run.err" | sed 's/^/processor: /'
if grep -q '^FIRING' "$d/notify.out"; then
    say "demo ok: the injected spike was detected, stopping the stack"
    exit 0
fi
echo "demo: no alert was delivered; processor log:" >&2
tail -20 "$d/run.err" >&2
exit 1
