// Command authzbench measures ext_authz servers on loopback, reproducibly.
//
// It generates the material a run needs (signing keys, a JWKS, a jwt-authz
// configuration and token files), runs a stock allow-all ext_authz server as
// the floor that every figure is compared with, and drives any ext_authz v3
// gRPC server the way one Envoy worker does: over one gRPC connection, with
// Envoy-shaped CheckRequests.
//
// Subcommands:
//
//	authzbench gen --out DIR --tokens N
//	authzbench floor [--addr 127.0.0.1:0 | --config FILE]
//	authzbench load --target ADDR --tokens FILE [--token-mode same|each] [--mode closed|open]
//	    [--concurrency C] [--rate R] [--duration D] [--expect allow|deny] [--pid PID] [--conns N]
//	authzbench revoke-load --admin ADDR [--jtis FILE] --count N [--concurrency C]
//	authzbench suite [--dir DIR] [--server-cmd "./jwt-authz serve --config {config}"] [--out FILE]
//
// The closed-loop mode keeps a fixed number of requests in flight; the
// open-loop mode sends at a fixed rate and measures each latency from the
// time the request was scheduled, so that time spent queued behind a slow
// server is counted rather than hidden (coordinated omission). Every run
// counts transport errors and wrong decisions (allowed when a denial was
// expected, or the reverse), and, given the server's PID, the CPU seconds
// it used (utime+stime from /proc/PID/stat) and its memory (VmRSS and VmHWM
// from /proc/PID/status).
//
// BENCHMARKS.md at the root of the repository describes the method and
// holds the results.
//
// authzbench only talks to loopback addresses (127.0.0.0/8, ::1, localhost):
// it is a load generator, and the floor is an allow-everything server, so
// neither may reach or be reached from the network. It reads /proc and is
// therefore Linux-only.
package main
