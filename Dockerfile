# syntax=docker/dockerfile:1
#
# popgate as a static binary in a distroless image: no shell, no package
# manager, CA certificates and time zones included, running as nonroot
# (uid 65532). Build with: docker build -t popgate .

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.buildVersion=${VERSION}" \
        -o /out/popgate ./cmd/popgate \
    && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/popgate /usr/local/bin/popgate
# The state directory belongs to the unprivileged user, so a fresh named
# volume mounted there is writable.
COPY --from=build --chown=65532:65532 /out/state /var/lib/popgate
USER 65532:65532
# Unprivileged ports inside the container; publish them as 110 and 995.
ENV POPGATE_LISTEN=0.0.0.0:1110 \
    POPGATE_ADMIN_LISTEN=0.0.0.0:9110 \
    POPGATE_DATA_DIR=/var/lib/popgate
EXPOSE 1110 1995 9110
VOLUME ["/var/lib/popgate"]
HEALTHCHECK --interval=15s --timeout=6s --start-period=10s CMD ["/usr/local/bin/popgate", "health"]
ENTRYPOINT ["/usr/local/bin/popgate"]
CMD ["serve"]
