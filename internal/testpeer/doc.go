// Package testpeer starts real POP3 peers for integration tests: private
// Dovecot and popa3d servers on free 127.0.0.1 ports, and the real clients
// (Python poplib, fetchmail, mpop, getmail6, curl) that talk to them.
//
// Every helper takes a testing.TB and cleans up with t.Cleanup. A peer that
// is not installed skips the test, except under CI=true, where a missing
// peer fails it: CI must prove the suite ran against the real programs.
// .ci/run installs them all.
//
// The package is imported only by _test.go files.
package testpeer
