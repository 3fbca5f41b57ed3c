# Build: docker build -t zen-exporter .   Run: docker run -p 9469:9469 -v zen-data:/data zen-exporter
# TLS and basic auth: mount a web config (deploy/web-config.yml) and its certificates, e.g.
#   docker run -p 9469:9469 -v zen-data:/data -v /etc/zen-exporter:/etc/zen-exporter/web:ro zen-exporter \
#     serve --config /etc/zen-exporter/exporter.yaml --web.config.file /etc/zen-exporter/web/web-config.yml
# Edits to the mounted file apply without a restart.
FROM swift:6.2-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources Sources
RUN swift build -c release --product zen-exporter --static-swift-stdlib \
 && cp "$(swift build -c release --show-bin-path)/zen-exporter" /zen-exporter

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-0 zlib1g ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* && useradd --system --home /data zen && mkdir /data && chown zen /data
COPY --from=build /zen-exporter /usr/local/bin/zen-exporter
COPY exporter.yaml /etc/zen-exporter/exporter.yaml
COPY deploy/web-config.yml /etc/zen-exporter/web-config.example.yml
USER zen
WORKDIR /data
EXPOSE 9469
ENTRYPOINT ["/usr/local/bin/zen-exporter"]
CMD ["serve", "--config", "/etc/zen-exporter/exporter.yaml"]
