# syntax=docker/dockerfile:1

# One image holds every Tessera binary; docker-compose.yml picks the process
# with `command`. Build: docker build -t tessera .
# Run one process: docker run --rm -p 8080:8080 tessera tessera

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.22

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# Generated *_templ.go files are committed, so no templ step is needed here.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ \
        ./cmd/composer ./cmd/headlines ./cmd/weather ./cmd/shows ./cmd/topbar ./cmd/tessera

# Alpine rather than distroless so that healthchecks can use busybox wget.
FROM alpine:${ALPINE_VERSION}
RUN apk add --no-cache ca-certificates tzdata \
    && addgroup -S -g 10001 tessera \
    && adduser -S -D -H -u 10001 -G tessera tessera \
    && mkdir -p /var/lib/tessera /etc/tessera \
    && chown tessera:tessera /var/lib/tessera
COPY --from=build /out/ /usr/local/bin/
USER tessera:tessera
WORKDIR /var/lib/tessera
EXPOSE 8080 8081 8082 8083 8084
# Default to the composer; override with e.g. `command: ["headlines"]`.
CMD ["composer"]
