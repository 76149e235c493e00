// Package demo seeds the embedded default: a data directory with one user,
// "demo" (password "demo"), and a Maildir holding a few messages, so that
// popgate run with no configuration has something to serve.
package demo
