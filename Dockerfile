# edgewatch container image: build/edgewatch and build/edgewatch-notify on
# Debian 12, the platform the project is built and tested on.
#
#   docker build -t edgewatch:local .
#   docker run --rm edgewatch:local check -c config/edgewatch.example.json
#
# docker-compose.yml runs it next to Kafka (KRaft) and Valkey.

# ---- build stage -------------------------------------------------------------
FROM debian:12-slim AS build

# tools/deps.sh is the single list of build dependencies: it apt-get installs
# whatever is missing. It is copied on its own so that this layer stays cached
# until the dependency list itself changes.
WORKDIR /src
COPY tools/deps.sh tools/deps.sh
RUN sh tools/deps.sh && rm -rf /var/lib/apt/lists/*

COPY . .
RUN make clean && make -j"$(nproc)" all \
    && build/edgewatch check -c config/edgewatch.example.json

# ---- runtime stage -----------------------------------------------------------
FROM debian:12-slim

# The shared libraries the binaries link (see `ldd build/edgewatch`); the
# compression, SASL and TLS libraries come in as librdkafka1's dependencies.
# ca-certificates lets the kafka passthrough use security.protocol=SSL.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 libjansson4 libhiredis0.14 zlib1g ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /opt/edgewatch --shell /usr/sbin/nologin edgewatch

# Same layout as the source tree, so relative paths in the example config
# (metadata: config/metadata.example.json) resolve from the working directory.
WORKDIR /opt/edgewatch
COPY --from=build /src/build/edgewatch /src/build/edgewatch-notify build/
COPY config/ config/

USER edgewatch
ENTRYPOINT ["/opt/edgewatch/build/edgewatch"]
CMD ["--help"]
