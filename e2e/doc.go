// Package e2e holds end-to-end tests: popgate assembled from its packages,
// in front of real POP3 servers, driven by real POP3 clients.
package e2e
