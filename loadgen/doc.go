// Package loadgen drives POP3 servers with many concurrent simulated
// clients and reports throughput, latency percentiles and errors by kind.
// It talks plain POP3 or implicit TLS to any address, so the same load can
// be pointed at popgate, at the server behind it, or at another proxy.
package loadgen
