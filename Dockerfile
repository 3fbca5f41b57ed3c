# Build: docker build -t zen-exporter .   Run: docker run -p 9469:9469 -v zen-data:/data zen-exporter
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
USER zen
WORKDIR /data
EXPOSE 9469
ENTRYPOINT ["/usr/local/bin/zen-exporter"]
CMD ["serve", "--config", "/etc/zen-exporter/exporter.yaml"]
