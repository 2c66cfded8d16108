# Images of the three services, one build stage for all: the stage named after the service is
# its image, and COMMAND names the package of its binary. Build from the repository root,
# which is the build context because go.work ties the modules together and every service
# builds against shared/:
#
#   docker build --target gateway --build-arg COMMAND=gateway/cmd/doip-gateway -t doip-gateway/gateway .
#   docker build --target retrieve-svc --build-arg COMMAND=retrieve-svc/cmd/retrieve-svc -t doip-gateway/retrieve-svc .
#   docker build --target invoke-svc --build-arg COMMAND=invoke-svc/cmd/invoke-svc -t doip-gateway/invoke-svc .
#   docker compose build
#
# Both base images are pinned by tag only. Pin the digests too, from
#   docker buildx imagetools inspect golang:1.26.8-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/static-debian12:nonroot
# written as FROM golang:1.26.8-bookworm@sha256:<digest> (and likewise for distroless).

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ENV GOTOOLCHAIN=local
WORKDIR /src

# Module files first, so the download layer is reused until one of them changes. go.work
# names every module, so each go.mod must be here even where an image does not use it.
COPY go.work go.work.sum ./
COPY shared/go.mod shared/go.sum shared/
COPY gateway/go.mod gateway/go.sum gateway/
COPY retrieve-svc/go.mod retrieve-svc/go.sum retrieve-svc/
COPY invoke-svc/go.mod invoke-svc/go.sum invoke-svc/
COPY deploy/go.mod deploy/go.sum deploy/
RUN go mod download

# Then the sources (.dockerignore keeps test data and local files out).
COPY shared/ shared/
COPY gateway/ gateway/
COPY retrieve-svc/ retrieve-svc/
COPY invoke-svc/ invoke-svc/
COPY deploy/cmd/healthprobe/ deploy/cmd/healthprobe/
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# COMMAND is the package of the service's binary, such as gateway/cmd/doip-gateway; the
# binary is /out/ and the package's last element. /out/data is retrieve-svc's data folder.
ARG COMMAND
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
        -o /out/ ./${COMMAND} && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" \
        -o /out/healthprobe ./deploy/cmd/healthprobe && \
    mkdir -p /out/data

# What every image has: distroless (no shell, no package manager), the health probe, and the
# user uid 65532. No shell or curl in distroless: each image's health check is the probe
# binary, in exec form, asking the admin server's /readyz on the service's default
# ADMIN_ADDR; an ADMIN_ADDR must keep that port (0.0.0.0:PORT, as docker-compose.yml sets, is
# what the image's EXPOSE of it is for).
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/healthprobe /usr/local/bin/
USER 65532:65532

# doip-gateway, the DOIP edge (ports 3567 and 3568, DOIP over HTTPS on 3569). Certificates are mounted at /certs
# (docker-compose.yml mounts ./certs); without them the gateway makes a self-signed one at
# start-up.
FROM runtime AS gateway
COPY --from=build /out/doip-gateway /usr/local/bin/
ENV TLS_CERT=/certs/server.crt TLS_KEY=/certs/server.key
EXPOSE 3567 3568 3569 9567
ENTRYPOINT ["/usr/local/bin/doip-gateway"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthprobe", "http", "http://127.0.0.1:9567/readyz"]

# retrieve-svc, the data service (gRPC on 50051). /data is the folder backend's root and the
# records folder, owned by the service's user so that a volume mounted there is writable
# (STORAGE=folder seeds the sample objects into it).
FROM runtime AS retrieve-svc
COPY --from=build /out/retrieve-svc /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /data
ENV RETRIEVE_LISTEN=0.0.0.0:50051 DATA_DIR=/data
EXPOSE 50051 9551
ENTRYPOINT ["/usr/local/bin/retrieve-svc"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthprobe", "http", "http://127.0.0.1:9551/readyz"]

# invoke-svc, the stateless workflow worker (gRPC on 50052; run any number).
FROM runtime AS invoke-svc
COPY --from=build /out/invoke-svc /usr/local/bin/
ENV INVOKE_LISTEN=0.0.0.0:50052
EXPOSE 50052 9552
ENTRYPOINT ["/usr/local/bin/invoke-svc"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/healthprobe", "http", "http://127.0.0.1:9552/readyz"]
