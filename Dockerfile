# syntax=docker/dockerfile:1
# SteelEngine: one static binary, run as a non-root user with its data on a volume.
#   docker build -t steelengine .
#   docker run -d --name steelengine -p 8080:8080 -v steelengine-data:/data steelengine
#   docker logs steelengine          # first start: admin password and key (also /data/initial-admin.txt)
#   docker exec steelengine steelengine keys list   # admin commands reach the server through /data/operator.sock

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION (e.g. v1.2.0) names the release; otherwise the version comes from the
# revision go build stamps from .git.
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=auto \
      -ldflags "-s -w ${VERSION:+-X main.Version=${VERSION}}" \
      -o /out/steelengine ./cmd/steelengine \
 && mkdir -p /out/data

# distroless/static: no shell, no package manager; uid 65532 ("nonroot").
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/steelengine /usr/local/bin/steelengine
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
ENV STEELENGINE_DATA_DIR=/data \
    STEELENGINE_ADDR=0.0.0.0:8080
USER 65532:65532
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/steelengine", "health", "--url", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/steelengine"]
CMD ["serve"]
