# Crossbill in one image; the command picks the executable:
#   docker run crossbill:latest                        -> ingest (the default)
#   docker run crossbill:latest transform              -> transform (likewise crm-writer, erp-writer,
#                                                         notifier)
#   docker run crossbill:latest crossbill topics ...   -> the operator CLI
#   docker run crossbill:latest sandbox --host 0.0.0.0 -> the Salesforce and NetSuite simulators (trials only)
#
# Build and runtime stages are both Debian 12 (bookworm), so the librdkafka (2.0.2), libcurl and
# SQLite the binaries were linked against are the ones installed at run time.

# ---------------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build

# The C libraries' development packages. Each has a runtime package, installed in the second stage:
# librdkafka-dev -> librdkafka1, libcurl4-openssl-dev -> libcurl4, libsqlite3-dev -> libsqlite3-0.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka-dev libcurl4-openssl-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Dependencies first, so source edits do not invalidate this layer. Package.resolved is copied when
# present (it is optional in the glob) and then pins the versions.
COPY Package.swift Package.resolved* ./
RUN swift package resolve

# Tests/ is needed too: the manifest names targets under Tests/ by path, and SwiftPM checks every
# declared path before it builds anything.
COPY Shared ./Shared
COPY Services ./Services
COPY Tools ./Tools
COPY Tests ./Tests

# The executables shipped in the image. `swift build` takes one --product at a time, so loop; a
# product missing from Package.swift fails the build here rather than at run time. dev-broker and the
# benchmarks are development tools and stay out; the sandbox is in for the compose "sandbox" profile.
ARG PRODUCTS="ingest transform crm-writer erp-writer notifier crossbill sandbox"

# --static-swift-stdlib links the Swift runtime and Foundation into each binary, so the runtime stage
# needs no Swift toolchain; the C libraries stay dynamic and come from Debian. The resource bundles
# (transform's default mappings, the sandbox's schemas) go next to the binaries, where Bundle.module
# looks for them.
RUN set -eu; \
    for product in $PRODUCTS; do \
        swift build -c release --static-swift-stdlib --product "$product"; \
    done; \
    bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"; \
    mkdir -p /staging; \
    for product in $PRODUCTS; do \
        cp "$bin/$product" /staging/; \
    done; \
    find -L "$bin" -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/ \; ; \
    cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# Exactly what the binaries load, plus three non-library packages:
#   librdkafka1, libcurl4, libsqlite3-0  the C libraries (the -dev packages' runtime halves)
#   libstdc++6, libgcc-s1                the statically linked Swift runtime needs them (already in the
#                                        base image; named so the list does not depend on that)
#   ca-certificates                      TLS to Kafka, Salesforce, NetSuite and webhook endpoints
#   tzdata                               time zones
#   curl                                 the health checks of docker-compose.yml
# Tests/DeploymentTests checks this list against `ldd` of the built binaries.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka1 libcurl4 libsqlite3-0 libstdc++6 libgcc-s1 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/*

# Non-root service user. The state directories exist in the image and belong to it, so a named volume
# mounted on /var/lib/crossbill/<service> starts out writable by the service.
RUN groupadd --system --gid 10001 crossbill \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/crossbill --no-create-home \
        --shell /usr/sbin/nologin crossbill \
    && mkdir -p /var/lib/crossbill/ingest /var/lib/crossbill/transform /var/lib/crossbill/crm-writer \
        /var/lib/crossbill/erp-writer /var/lib/crossbill/notifier \
    && chown -R crossbill:crossbill /var/lib/crossbill

COPY --from=build /staging/ /usr/local/bin/
# One SQLite store per replica inside a shared volume (docker-compose.yml); uses flock from util-linux,
# which is part of every Debian system.
COPY deploy/docker/state-slot /usr/local/bin/state-slot
RUN chmod 0755 /usr/local/bin/state-slot

WORKDIR /var/lib/crossbill
USER 10001:10001

# Services listen on 127.0.0.1 unless told otherwise; in a container they must listen on all
# interfaces to be reachable. A crash prints a symbolicated backtrace of every thread to the log.
ENV HTTP_HOST=0.0.0.0 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/bin/swift-backtrace-static

# Default ports: ingest, transform, crm-writer, erp-writer, notifier; sandbox (Salesforce, NetSuite).
EXPOSE 8080 8081 8082 8083 8084 8091 8092

ENTRYPOINT []
CMD ["ingest"]
