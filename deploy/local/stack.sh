#!/usr/bin/env bash
# The local Sluice stack without Docker: Apache Kafka (KRaft, one node) and the
# Apicurio schema registry, both fetched from Maven Central and run with the JDK.
#
#   stack.sh start    fetch what is missing, start what is not running, wait until both answer
#   stack.sh stop     stop both cleanly
#   stack.sh status   say what runs where
#   stack.sh running  exit 0 when both run (for scripts)
#   stack.sh reset    stop, then delete the data directory (topics, offsets, schemas)
#   stack.sh env      print the environment variables that point clients at this stack
#
# Settings (environment): SLUICE_CACHE_DIR (downloads, default ~/.cache/sluice),
# SLUICE_DATA_DIR (logs and broker data, default $SLUICE_CACHE_DIR/stack),
# SLUICE_KAFKA_PORT (9092), SLUICE_KAFKA_CONTROLLER_PORT (9093), SLUICE_REGISTRY_PORT (8081),
# SLUICE_KAFKA_HEAP (1g), SLUICE_REGISTRY_HEAP (768m).
set -euo pipefail

KAFKA_VERSION=3.9.1
APICURIO_VERSION=3.0.9
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}
DATA_DIR=${SLUICE_DATA_DIR:-$CACHE_DIR/stack}
KAFKA_PORT=${SLUICE_KAFKA_PORT:-9092}
CONTROLLER_PORT=${SLUICE_KAFKA_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-8081}
KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
APICURIO_HOME=$CACHE_DIR/apicurio-registry-$APICURIO_VERSION

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

require_tools() {
  command -v java >/dev/null || die "no 'java' on PATH: install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "java $major found, Kafka $KAFKA_VERSION and Apicurio need 17 or newer"
}

require_maven() {
  command -v mvn >/dev/null || die "no 'mvn' on PATH: it fetches Kafka and Apicurio from Maven Central (apt-get install maven)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

fetch_kafka() {
  [ -f "$KAFKA_HOME/.complete" ] && return
  require_maven
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_HOME"
  rm -rf "$KAFKA_HOME" && mkdir -p "$KAFKA_HOME/libs"
  mvn -q -B -f "$HERE/kafka-runtime.pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" \
    || die "maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  touch "$KAFKA_HOME/.complete"
}

fetch_apicurio() {
  [ -f "$APICURIO_HOME/.complete" ] && return
  require_maven
  say "fetching Apicurio Registry $APICURIO_VERSION from Maven Central into $APICURIO_HOME"
  rm -rf "$APICURIO_HOME" && mkdir -p "$APICURIO_HOME"
  mvn -q -B dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" \
    -DoutputDirectory="$APICURIO_HOME" \
    || die "maven could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  tar -xzf "$APICURIO_HOME"/apicurio-registry-app-*-all.tar.gz -C "$APICURIO_HOME"
  rm -f "$APICURIO_HOME"/apicurio-registry-app-*-all.tar.gz
  touch "$APICURIO_HOME/.complete"
}

wait_for() { # description, seconds, command...
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
  say "$what is up"
}

start_kafka() {
  local dir=$DATA_DIR/kafka pidfile=$DATA_DIR/kafka.pid
  if pid_alive "$pidfile"; then say "kafka already running (pid $(cat "$pidfile")) on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process: stop it or set SLUICE_KAFKA_PORT"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process: stop it or set SLUICE_KAFKA_CONTROLLER_PORT"
  mkdir -p "$dir"
  cat >"$DATA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=33554432
PROPS
  cat >"$DATA_DIR/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.logger.kafka=WARN
log4j.logger.org.apache.kafka=WARN
# KafkaRaftServer announces "Kafka Server started", which start-up waits for.
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$DATA_DIR/kafka.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
  local cp="$KAFKA_HOME/libs/*"
  : >"$DATA_DIR/kafka.log"
  if [ ! -f "$dir/logs/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java -cp "$cp" -Dlog4j.configuration="file:$DATA_DIR/log4j.properties" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$DATA_DIR/server.properties" >"$DATA_DIR/kafka-format.log" 2>&1 \
      || die "formatting Kafka storage failed, see $DATA_DIR/kafka-format.log"
    say "formatted KRaft storage (cluster $cluster_id) in $dir/logs"
  fi
  setsid nohup java -Xms256m -Xmx"${SLUICE_KAFKA_HEAP:-1g}" -XX:+UseG1GC -cp "$cp" \
    -Dlog4j.configuration="file:$DATA_DIR/log4j.properties" kafka.Kafka "$DATA_DIR/server.properties" \
    >"$DATA_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_for "kafka on 127.0.0.1:$KAFKA_PORT" 90 kafka_answers \
    || { tail -n 30 "$DATA_DIR/kafka.out" "$DATA_DIR/kafka.log" >&2 2>/dev/null; die "kafka did not come up in 90 s (logs above, in $DATA_DIR)"; }
}

kafka_answers() {
  pid_alive "$DATA_DIR/kafka.pid" || { tail -n 30 "$DATA_DIR/kafka.out" >&2; die "kafka exited during start-up (log above)"; }
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$DATA_DIR/kafka.out" "$DATA_DIR/kafka.log" 2>/dev/null
}

start_registry() {
  local pidfile=$DATA_DIR/registry.pid
  if pid_alive "$pidfile"; then say "schema registry already running (pid $(cat "$pidfile")) on 127.0.0.1:$REGISTRY_PORT"; return; fi
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by another process: stop it or set SLUICE_REGISTRY_PORT"
  mkdir -p "$DATA_DIR"
  # In-memory storage: schemas are re-registered by the services at start-up.
  setsid nohup java -Xms128m -Xmx"${SLUICE_REGISTRY_HEAP:-768m}" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dquarkus.log.level=WARN -Dquarkus.banner.enabled=false \
    -jar "$APICURIO_HOME"/apicurio-registry-app-*-runner.jar >"$DATA_DIR/registry.out" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_for "schema registry on http://127.0.0.1:$REGISTRY_PORT" 120 registry_answers \
    || { tail -n 30 "$DATA_DIR/registry.out" >&2; die "schema registry did not come up in 120 s (log above)"; }
}

registry_answers() {
  pid_alive "$DATA_DIR/registry.pid" || { tail -n 30 "$DATA_DIR/registry.out" >&2; die "schema registry exited during start-up (log above)"; }
  curl -sf "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" >/dev/null 2>&1
}

stop_one() { # name pidfile
  local name=$1 pidfile=$2
  pid_alive "$pidfile" || { rm -f "$pidfile"; return; }
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30 s, killing it"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "$name stopped"
}

status() {
  if pid_alive "$DATA_DIR/kafka.pid"; then say "kafka: running (pid $(cat "$DATA_DIR/kafka.pid")) on 127.0.0.1:$KAFKA_PORT"; else say "kafka: stopped"; fi
  if pid_alive "$DATA_DIR/registry.pid"; then say "schema registry: running (pid $(cat "$DATA_DIR/registry.pid")) on http://127.0.0.1:$REGISTRY_PORT"; else say "schema registry: stopped"; fi
  say "data: $DATA_DIR"
}

print_env() {
  echo "export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "export SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
}

case "${1:-}" in
  start)
    require_tools
    mkdir -p "$CACHE_DIR" "$DATA_DIR"
    fetch_kafka
    fetch_apicurio
    start_kafka
    start_registry
    ;;
  stop)
    stop_one "schema registry" "$DATA_DIR/registry.pid"
    stop_one kafka "$DATA_DIR/kafka.pid"
    ;;
  status) status ;;
  running) pid_alive "$DATA_DIR/kafka.pid" && pid_alive "$DATA_DIR/registry.pid" ;;
  reset)
    stop_one "schema registry" "$DATA_DIR/registry.pid"
    stop_one kafka "$DATA_DIR/kafka.pid"
    rm -rf "$DATA_DIR"
    say "deleted $DATA_DIR"
    ;;
  env) print_env ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
