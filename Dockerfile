# tallyd's container image: a static binary on a distroless base, running as a non-root user.
#
#   docker build -t tallyd .
#   docker run --rm -e PORT=8080 -e TALLY_INSECURE=true -p 8080:8080 tallyd
#
# On Cloud Run the configuration comes from the environment the Terraform module sets
# (terraform/modules/tally/service.tf); docs/deploy.md builds and pushes this image, or the same
# with ko and no Docker (.ko.yaml).

FROM golang:1.26 AS build
WORKDIR /src
# The module download is its own layer: it changes only with go.mod and go.sum.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (no cgo, so no libc needed at run time), without local paths in the binary.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/tallyd ./cmd/tallyd && \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/tally ./cmd/tally

# Distroless static: CA certificates and time zones, no shell, no package manager. :nonroot runs
# as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tallyd /out/tally /usr/local/bin/
USER nonroot:nonroot
# The embedded storage's default ./tally-data lands in the user's home, which it may write.
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/tallyd"]
