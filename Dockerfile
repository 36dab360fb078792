# archiver: a static binary on a minimal, non-root base image.
#   docker build -t archiver .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/archiver ./cmd/archiver

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/archiver /archiver
# The Sidecar image runs X-Road as uid/gid 999; the manifests run archiver
# as that user so it can read (and prune) the files it ships.
USER 65532:65532
ENTRYPOINT ["/archiver"]
