#!/usr/bin/env bash
# Fetches Apache Kafka's jars (the broker, the perf tools and a log4j2 SLF4J
# binding, without which the broker logs nothing) from Maven Central into
# ~/.cache/hearth/kafka-VERSION/libs, once: a small pom and
# `mvn dependency:copy-dependencies`, about 10 s from an empty local
# repository. test/servers/kafka.ts starts a KRaft broker from them (no
# container, no tarball). `make test-unit` runs this in the background beside
# the unit suites; the tests run it too and wait on the same lock, so parallel
# test files and processes never fetch twice or see half a directory.
#
#   test/servers/fetch-kafka.sh     fetch if needed, print the libs directory
#
# Without java or mvn it fails under CI=true (make test installs Debian's maven,
# which brings a JRE), and otherwise says why and exits 3 (the tests skip).
set -euo pipefail
KAFKA_VERSION=4.4.0
LOG4J_VERSION=2.25.5
cache=${HEARTH_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth/kafka-${KAFKA_VERSION}}
log() { echo "kafka-fetch: $*" >&2; }
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then log "FATAL: $tool is not on PATH; the Kafka tests need it (Debian: apt-get install maven)"; exit 1; fi
    log "skipping: $tool is not on PATH (Debian: apt-get install maven)"
    exit 3
  fi
done
stamp="org.apache.kafka:kafka_2.13:${KAFKA_VERSION} org.apache.kafka:kafka-tools:${KAFKA_VERSION} org.apache.logging.log4j:log4j-slf4j-impl:${LOG4J_VERSION}"
fresh() { [ -d "$cache/libs" ] && [ "$(cat "$cache/.kafka.stamp" 2>/dev/null)" = "$stamp" ]; }
if fresh; then echo "$cache/libs"; exit 0; fi
mkdir -p "$cache"
# One fetch at a time: a second caller (a test, while make's background fetch runs) waits, then finds it fresh.
exec 9>"$cache/.fetch.lock"
flock 9
if fresh; then echo "$cache/libs"; exit 0; fi
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.hearth.test</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
</project>
EOF
log "fetching Kafka ${KAFKA_VERSION} jars from Maven Central"
start=$SECONDS
(cd "$tmp" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime) >&2
ls "$tmp"/libs/kafka_2.13-"${KAFKA_VERSION}".jar >/dev/null
# The directory appears whole or not at all (rename on the same filesystem); a stale one goes first.
rm -rf "$cache/libs"
mv "$tmp/libs" "$cache/libs"
printf '%s' "$stamp" >"$cache/.kafka.stamp"
log "fetched $(ls "$cache/libs" | wc -l) jars in $((SECONDS - start)) s"
echo "$cache/libs"
