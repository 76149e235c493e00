// Package health checks backends in the background and serves /healthz and
// /readyz. A backend whose last check failed is refused at once by the
// Opener that Guard returns, with a [SYS/TEMP] reply, instead of letting
// every login wait for a connect timeout; checks go on, and the backend is
// used again as soon as one succeeds.
package health
