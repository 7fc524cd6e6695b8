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
# With --secure (or SLUICE_SECURE=1), each command acts on a second, secured stack with its own
# data directory ($SLUICE_CACHE_DIR/stack-secure) and ports (9192, 9193, 8181): one SASL_SSL listener
# (SCRAM-SHA-512 users created at format time, a CA and broker certificate made here with openssl and
# keytool), StandardAuthorizer denying what no ACL allows, and User:admin its only super user.
# Principals: admin ingest features learner fraud cli producer, passwords in <data>/secrets/<name>.password.
# `stack.sh env --secure <principal>` prints that principal's client settings; deploy/acl/acls.json holds
# the ACLs, applied with `./sluice cli acls apply` as admin.
#
# With SLUICE_KAFKA_NODES=3, Kafka is a cluster of that many KRaft nodes (broker and controller each) in
# $SLUICE_CACHE_DIR/stack-cluster, node n serving clients on SLUICE_KAFKA_PORT+2(n-1) (default 9292) and
# its controller on the port after; internal topics replicated 3 times, min.insync.replicas 2. `start`
# starts the nodes that are not running (e.g. one that was killed).
#
# Settings (environment): SLUICE_CACHE_DIR (downloads, default ~/.cache/sluice),
# SLUICE_DATA_DIR (logs and broker data, default $SLUICE_CACHE_DIR/stack),
# SLUICE_KAFKA_PORT (9092), SLUICE_KAFKA_CONTROLLER_PORT (9093), SLUICE_REGISTRY_PORT (8081),
# SLUICE_KAFKA_HEAP (1g), SLUICE_REGISTRY_HEAP (768m), SLUICE_SECURE (0), SLUICE_KAFKA_NODES (1).
set -euo pipefail

say() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

SECURE=${SLUICE_SECURE:-0}
ARGS=()
for arg in "$@"; do
  if [ "$arg" = --secure ]; then SECURE=1; else ARGS+=("$arg"); fi
done
set -- "${ARGS[@]+"${ARGS[@]}"}"
NODES=${SLUICE_KAFKA_NODES:-1}

KAFKA_VERSION=3.9.1
APICURIO_VERSION=3.0.9
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}
if [ "$NODES" -gt 1 ]; then
  [ "$SECURE" = 1 ] && die "--secure and SLUICE_KAFKA_NODES > 1 do not go together (yet)"
  DATA_DIR=${SLUICE_DATA_DIR:-$CACHE_DIR/stack-cluster}
  KAFKA_PORT=${SLUICE_KAFKA_PORT:-9292}
  CONTROLLER_PORT=$((KAFKA_PORT + 1))
  REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-8281}
elif [ "$SECURE" = 1 ]; then
  DATA_DIR=${SLUICE_DATA_DIR:-$CACHE_DIR/stack-secure}
  KAFKA_PORT=${SLUICE_KAFKA_PORT:-9192}
  CONTROLLER_PORT=${SLUICE_KAFKA_CONTROLLER_PORT:-9193}
  REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-8181}
else
  DATA_DIR=${SLUICE_DATA_DIR:-$CACHE_DIR/stack}
  KAFKA_PORT=${SLUICE_KAFKA_PORT:-9092}
  CONTROLLER_PORT=${SLUICE_KAFKA_CONTROLLER_PORT:-9093}
  REGISTRY_PORT=${SLUICE_REGISTRY_PORT:-8081}
fi
PRINCIPALS="admin ingest features learner fraud cli producer"
KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
APICURIO_HOME=$CACHE_DIR/apicurio-registry-$APICURIO_VERSION

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

write_log4j() {
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
}

start_kafka() {
  local dir=$DATA_DIR/kafka pidfile=$DATA_DIR/kafka.pid
  if pid_alive "$pidfile"; then say "kafka already running (pid $(cat "$pidfile")) on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process: stop it or set SLUICE_KAFKA_PORT"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process: stop it or set SLUICE_KAFKA_CONTROLLER_PORT"
  mkdir -p "$dir"
  if [ "$SECURE" = 1 ]; then secure_listeners >"$DATA_DIR/server.properties"; else
  cat >"$DATA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
  fi
  cat >>"$DATA_DIR/server.properties" <<PROPS
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
  write_log4j
  local cp="$KAFKA_HOME/libs/*"
  : >"$DATA_DIR/kafka.log"
  if [ ! -f "$dir/logs/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    local scram=()
    if [ "$SECURE" = 1 ]; then
      for principal in $PRINCIPALS; do scram+=(--add-scram "SCRAM-SHA-512=[name=$principal,password=$(secret "$principal")]"); done
    fi
    java -cp "$cp" -Dlog4j.configuration="file:$DATA_DIR/log4j.properties" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$DATA_DIR/server.properties" "${scram[@]+"${scram[@]}"}" >"$DATA_DIR/kafka-format.log" 2>&1 \
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

# A principal's password: made once (random), kept readable by this user only.
secret() {
  local file=$DATA_DIR/secrets/$1.password
  if [ ! -s "$file" ]; then
    mkdir -p "$DATA_DIR/secrets" && chmod 700 "$DATA_DIR/secrets"
    (umask 077 && openssl rand -hex 24 >"$file")
  fi
  cat "$file"
}

# A CA, and a broker certificate it signs for 127.0.0.1 and localhost, as PKCS12 stores for the broker.
make_certificates() {
  local tls=$DATA_DIR/tls
  [ -f "$tls/broker.p12" ] && return
  command -v openssl >/dev/null || die "no 'openssl' on PATH: the secured stack makes its certificates with it"
  command -v keytool >/dev/null || die "no 'keytool' on PATH (it comes with the JDK)"
  mkdir -p "$tls" && chmod 700 "$tls"
  local password; password=$(secret keystore)
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=Sluice local CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$tls/broker.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 825 \
    -extfile "$tls/broker.ext" -out "$tls/broker.pem" 2>/dev/null
  openssl pkcs12 -export -in "$tls/broker.pem" -inkey "$tls/broker.key" -certfile "$tls/ca.pem" -name broker \
    -out "$tls/broker.p12" -passout "pass:$password"
  keytool -importcert -noprompt -alias sluice-ca -file "$tls/ca.pem" -keystore "$tls/truststore.p12" \
    -storetype PKCS12 -storepass "$password" >/dev/null 2>&1
  say "made a CA and a broker certificate in $tls (clients trust $tls/ca.pem)"
}

# Clients reach one SASL_SSL listener; the controller listener (loopback) takes the admin over SASL PLAIN,
# since SCRAM credentials live in the metadata the controller serves.
secure_listeners() {
  local admin keystore tls=$DATA_DIR/tls
  admin=$(secret admin); keystore=$(secret keystore)
  cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin" user_admin="$admin";
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$keystore
ssl.key.password=$keystore
ssl.truststore.type=PKCS12
ssl.truststore.location=$tls/truststore.p12
ssl.truststore.password=$keystore
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin
PROPS
}

node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
node_controller_port() { echo $((KAFKA_PORT + 2 * ($1 - 1) + 1)); }
node_pidfile() { echo "$DATA_DIR/kafka-$1.pid"; }

# The cluster: every node's configuration and storage (one cluster id), then each node not running started.
start_cluster() {
  local cp="$KAFKA_HOME/libs/*" voters="" n
  for n in $(seq 1 "$NODES"); do voters+="${voters:+,}$n@127.0.0.1:$(node_controller_port "$n")"; done
  [ -s "$DATA_DIR/cluster.id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$DATA_DIR/cluster.id"
  local started=()
  for n in $(seq 1 "$NODES"); do
    local dir=$DATA_DIR/kafka-$n port controller
    port=$(node_port "$n"); controller=$(node_controller_port "$n")
    if pid_alive "$(node_pidfile "$n")"; then say "kafka node $n already running (pid $(cat "$(node_pidfile "$n")")) on 127.0.0.1:$port"; continue; fi
    port_open "$port" && die "port $port is taken by another process: stop it or set SLUICE_KAFKA_PORT"
    port_open "$controller" && die "port $controller is taken by another process: stop it or set SLUICE_KAFKA_PORT"
    mkdir -p "$dir"
    cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=6
default.replication.factor=$NODES
min.insync.replicas=2
auto.create.topics.enable=false
offsets.topic.replication.factor=$NODES
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$NODES
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=16777216
# Three JVMs starting at once on a busy 2-core machine: a node that has not registered within the default
# 60 s gives up and exits (seen at load 48), so it waits up to 5 min for the quorum.
initial.broker.registration.timeout.ms=300000
PROPS
    sed "s#^log4j.appender.file.File=.*#log4j.appender.file.File=$dir/kafka.log#" "$DATA_DIR/log4j.properties" >"$dir/log4j.properties"
    : >"$dir/kafka.log"
    if [ ! -f "$dir/logs/meta.properties" ]; then
      java -cp "$cp" -Dlog4j.configuration="file:$dir/log4j.properties" kafka.tools.StorageTool format \
        -t "$(cat "$DATA_DIR/cluster.id")" -c "$dir/server.properties" >"$dir/kafka-format.log" 2>&1 \
        || die "formatting Kafka storage of node $n failed, see $dir/kafka-format.log"
    fi
    setsid nohup java -Xms256m -Xmx"${SLUICE_KAFKA_HEAP:-1g}" -XX:+UseG1GC -cp "$cp" \
      -Dlog4j.configuration="file:$dir/log4j.properties" kafka.Kafka "$dir/server.properties" \
      >"$dir/kafka.out" 2>&1 </dev/null &
    echo $! >"$(node_pidfile "$n")"
    started+=("$n")
  done
  for n in "${started[@]+"${started[@]}"}"; do
    wait_for "kafka node $n on 127.0.0.1:$(node_port "$n")" 120 node_answers "$n" \
      || { tail -n 30 "$DATA_DIR/kafka-$n/kafka.out" >&2; die "kafka node $n did not come up in 120 s (logs in $DATA_DIR/kafka-$n)"; }
  done
}

node_answers() {
  pid_alive "$(node_pidfile "$1")" || { tail -n 30 "$DATA_DIR/kafka-$1/kafka.out" >&2; die "kafka node $1 exited during start-up (log above)"; }
  port_open "$(node_port "$1")" && grep -q "Kafka Server started" "$DATA_DIR/kafka-$1/kafka.out" "$DATA_DIR/kafka-$1/kafka.log" 2>/dev/null
}

kafka_pidfiles() {
  if [ "$NODES" -gt 1 ]; then for n in $(seq 1 "$NODES"); do node_pidfile "$n"; done; else echo "$DATA_DIR/kafka.pid"; fi
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
  if [ "$NODES" -gt 1 ]; then
    for n in $(seq 1 "$NODES"); do
      if pid_alive "$(node_pidfile "$n")"; then say "kafka node $n: running (pid $(cat "$(node_pidfile "$n")")) on 127.0.0.1:$(node_port "$n")"; else say "kafka node $n: stopped"; fi
    done
  elif pid_alive "$DATA_DIR/kafka.pid"; then say "kafka: running (pid $(cat "$DATA_DIR/kafka.pid")) on 127.0.0.1:$KAFKA_PORT"; else say "kafka: stopped"; fi
  if pid_alive "$DATA_DIR/registry.pid"; then say "schema registry: running (pid $(cat "$DATA_DIR/registry.pid")) on http://127.0.0.1:$REGISTRY_PORT"; else say "schema registry: stopped"; fi
  say "data: $DATA_DIR"
}

print_env() {
  if [ "$NODES" -gt 1 ]; then
    local brokers="" n
    for n in $(seq 1 "$NODES"); do brokers+="${brokers:+,}127.0.0.1:$(node_port "$n")"; done
    echo "export KAFKA_BROKERS=$brokers"
    echo "export TOPIC_REPLICATION_FACTOR=$NODES"
  else
    echo "export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  fi
  echo "export SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
  if [ "$SECURE" = 1 ]; then
    local principal=${1:-admin}
    case " $PRINCIPALS " in *" $principal "*) ;; *) die "no principal '$principal' (one of: $PRINCIPALS)" ;; esac
    [ -s "$DATA_DIR/secrets/$principal.password" ] || die "the secured stack has not been started yet (stack.sh start --secure)"
    echo "export KAFKA_SSL=true"
    echo "export KAFKA_SSL_CA_FILE=$DATA_DIR/tls/ca.pem"
    echo "export KAFKA_SASL_MECHANISM=scram-sha-512"
    echo "export KAFKA_SASL_USERNAME=$principal"
    echo "export KAFKA_SASL_PASSWORD=$(cat "$DATA_DIR/secrets/$principal.password")"
  fi
}

case "${1:-}" in
  start)
    require_tools
    mkdir -p "$CACHE_DIR" "$DATA_DIR"
    fetch_kafka
    fetch_apicurio
    if [ "$SECURE" = 1 ]; then make_certificates; fi
    if [ "$NODES" -gt 1 ]; then write_log4j; start_cluster; else start_kafka; fi
    start_registry
    ;;
  stop)
    stop_one "schema registry" "$DATA_DIR/registry.pid"
    for pidfile in $(kafka_pidfiles); do stop_one "kafka ($(basename "$pidfile" .pid))" "$pidfile"; done
    ;;
  status) status ;;
  running)
    for pidfile in $(kafka_pidfiles); do pid_alive "$pidfile" || exit 1; done
    pid_alive "$DATA_DIR/registry.pid"
    ;;
  reset)
    stop_one "schema registry" "$DATA_DIR/registry.pid"
    for pidfile in $(kafka_pidfiles); do stop_one "kafka ($(basename "$pidfile" .pid))" "$pidfile"; done
    rm -rf "$DATA_DIR"
    say "deleted $DATA_DIR"
    ;;
  env) print_env "${2:-}" ;;
  *) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
