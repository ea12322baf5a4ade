# Crossbill services in one image; the command picks the executable:
#   docker run crossbill:latest                  -> ingest (the default)
#   docker run crossbill:latest crossbill ...    -> the operator CLI
#
# Build and runtime stages are both Debian 12 (bookworm), so the librdkafka, libcurl and SQLite the
# binaries were linked against (librdkafka 2.0.2) are the ones installed at run time.

# ---------------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build

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
# product missing from Package.swift fails the build here rather than at run time.
ARG PRODUCTS="ingest dev-broker crossbill"

# --static-swift-stdlib links the Swift runtime and Foundation into each binary, so the runtime stage
# needs no Swift toolchain; the C libraries stay dynamic and come from Debian.
RUN set -eu; \
    for product in $PRODUCTS; do \
        swift build -c release --static-swift-stdlib --product "$product"; \
    done; \
    bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"; \
    mkdir -p /staging; \
    for product in $PRODUCTS; do \
        cp "$bin/$product" /staging/; \
    done; \
    find -L "$bin" -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/ \;

# ---------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka1 libcurl4 libsqlite3-0 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/*

# Non-root service user. The state directories exist in the image and belong to it, so a named volume
# mounted on /var/lib/crossbill/<service> starts out writable by the service.
RUN groupadd --system --gid 10001 crossbill \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/crossbill --no-create-home \
        --shell /usr/sbin/nologin crossbill \
    && mkdir -p /var/lib/crossbill/ingest \
    && chown -R crossbill:crossbill /var/lib/crossbill

COPY --from=build /staging/ /usr/local/bin/

WORKDIR /var/lib/crossbill
USER 10001:10001

# Services listen on 127.0.0.1 unless told otherwise; in a container they must listen on all
# interfaces to be reachable.
ENV HTTP_HOST=0.0.0.0

EXPOSE 8080

ENTRYPOINT []
CMD ["ingest"]
