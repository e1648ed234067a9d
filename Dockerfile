# syntax=docker/dockerfile:1
#
# The sluice image: one static binary (CGO_ENABLED=0; the SQLite driver is
# pure Go) on Alpine, run by an unprivileged user under tini.
#
#   docker build -t sluice --build-arg VERSION=v0.1.0 .
#   docker run -p 8080:8080 -v sluice-home:/var/lib/sluice sluice         # sluice server on SQLite
#   docker run sluice worker --db postgres://…                            # one role on PostgreSQL
#
# Why Alpine and not distroless-static: tasks are shell scripts, so the image
# needs /bin/sh and the usual small tools (busybox: sed, awk, wget, date…);
# Alpine gives them for ~8 MB, where debian-slim costs ~75 MB. The binary is
# static, so musl versus glibc does not matter to sluice itself. Pipelines
# that need bash, python or a database client belong in an image built
# FROM this one (apk add …).
#
# Time zones: sluice embeds Go's tz database (time/tzdata, imported by the
# pipeline package), so schedules in any zone work without tzdata here. Add
# tzdata in a derived image only if your tasks themselves need zoneinfo.

ARG GO_VERSION=1.26.8
ARG ALPINE_VERSION=3.22

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
# VERSION is what `sluice version`, the worker list and the UI report. It
# is stamped with -X into github.com/sluice-dev/sluice.version (the linker
# ignores -X for a variable the code does not declare).
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/sluice-dev/sluice.version=${VERSION}" \
      -o /out/sluice ./cmd/sluice

FROM alpine:${ALPINE_VERSION}
ARG VERSION=dev
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Workflow orchestrator for data pipelines" \
      org.opencontainers.image.source="https://github.com/sluice-dev/sluice" \
      org.opencontainers.image.version="${VERSION}"

# ca-certificates: HTTP tasks and PostgreSQL with sslmode=verify-full check
# server certificates against them. tini: PID 1 that passes SIGTERM to
# sluice and reaps the orphans of the shell scripts tasks run (Go does not
# reap children it did not start).
RUN apk add --no-cache ca-certificates tini \
 && addgroup -S -g 10001 sluice \
 && adduser -S -D -H -u 10001 -G sluice -h /var/lib/sluice -s /sbin/nologin sluice \
 && mkdir -p /var/lib/sluice /etc/sluice/pipelines \
 && chown 10001:10001 /var/lib/sluice \
 && chmod 0700 /var/lib/sluice

COPY --from=build /out/sluice /usr/local/bin/sluice

# Every flag is also SLUICE_<FLAG>. In a container every role listens on
# all interfaces on one port, so probes and the HEALTHCHECK find it; set
# SLUICE_LISTEN (not --listen) to move it, the HEALTHCHECK reads it.
ENV SLUICE_HOME=/var/lib/sluice \
    SLUICE_PIPELINES=/etc/sluice/pipelines \
    SLUICE_LISTEN=:8080

# The SQLite home of `sluice server` (database, secret key, CLI token).
# Roles on PostgreSQL keep nothing here.
VOLUME ["/var/lib/sluice"]
WORKDIR /var/lib/sluice
EXPOSE 8080

# Numeric, so Kubernetes can check runAsNonRoot against it.
USER 10001:10001

# SIGTERM drains: no new tasks, running ones get --drain-timeout (default
# 30s), then their leases are handed back. Give the container longer than
# that to stop: docker stop -t 60, compose stop_grace_period, Kubernetes
# terminationGracePeriodSeconds (docker's own default is only 10s).
STOPSIGNAL SIGTERM

# Liveness: /healthz answers 200 while the process runs (/readyz also checks
# the database; orchestrators use it for readiness). busybox wget is the
# client. The start period covers waiting for the database and migrations.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${SLUICE_LISTEN##*:}/healthz" || exit 1

ENTRYPOINT ["/sbin/tini", "--", "/usr/local/bin/sluice"]
CMD ["server"]
