// Package dockerfile tests the repository's Dockerfile and .dockerignore
// without a container engine: it parses the Dockerfile, checks the
// properties the image must have (multi-stage, static pure-Go binary,
// digest-pinned distroless base, numeric non-root user, data volume, ports,
// entrypoint), and runs the Dockerfile's own `go build` line in the
// repository to prove it builds a static binary that reports the version and
// commit passed in and accepts the config file the image ships.
//
// It is a module of its own, with no dependencies, so that `go test ./...`
// in the repository root does not rebuild the whole binary with -trimpath.
package dockerfile
