// Package e2e holds end-to-end tests: popgate as it ships (internal/app in
// this process, or the built binary), in front of real POP3 servers, driven
// by real POP3 clients.
package e2e
