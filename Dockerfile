# syntax=docker/dockerfile:1.7
#
# jwt-authz container image: a static binary on distroless, running as a
# numeric non-root user with a read-only root filesystem in mind.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse HEAD) -t jwt-authz .
#
# Base images are pinned by digest so a moved tag cannot change the build.
# Refresh them deliberately: crane digest golang:1.26.8-bookworm
#                            crane digest gcr.io/distroless/static-debian12:nonroot

# The builder runs on the build machine's platform and cross-compiles, which
# needs no emulation because the binary is pure Go (CGO_ENABLED=0). Its Go
# version matches the go directive of go.mod, so no toolchain is downloaded.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build

WORKDIR /src
ENV GOTOOLCHAIN=local

# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown

RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -tags grpcnotrace -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/jwt-authz ./cmd/jwt-authz

# The data directory must exist and belong to the runtime user, so a volume
# mounted over it starts with the right owner.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="jwt-authz" \
      org.opencontainers.image.description="JWT validation and revocation for Envoy ext_authz, with an OAuth 2.0 token endpoint" \
      org.opencontainers.image.source="https://github.com/jwt-authz/jwt-authz" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

COPY --from=build /out/jwt-authz /jwt-authz
COPY --from=build --chown=65532:65532 /out/data /var/lib/jwt-authz

# The image's own config: listeners reachable from outside the container,
# state on the data volume, and the admin API (which can mint and revoke
# tokens) kept to the container's loopback. Kubernetes mounts its own file
# over /etc/jwt-authz (see charts/jwt-authz and manifests/).
COPY <<EOF /etc/jwt-authz/config.yaml
grpc_addr: 0.0.0.0:9001
http_addr: 0.0.0.0:8080
admin_addr: 127.0.0.1:9090
data_dir: /var/lib/jwt-authz
revocation:
  store: bolt
issuer:
  enabled: true
  issuer: http://127.0.0.1:8080
EOF

USER 65532:65532
VOLUME ["/var/lib/jwt-authz"]

# 9001 ext_authz gRPC, 8080 token endpoint and health, 9090 metrics and admin.
EXPOSE 9001 8080 9090

# Healthy while /readyz of the HTTP listener answers 200: keys loaded and the
# revocation store reachable. The binary asks it itself (the image has no
# shell or curl). Kubernetes ignores HEALTHCHECK and uses the chart's probes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/jwt-authz", "healthcheck", "--config", "/etc/jwt-authz/config.yaml", "--timeout", "4s"]

ENTRYPOINT ["/jwt-authz"]
CMD ["serve", "--config", "/etc/jwt-authz/config.yaml"]
