// Package testpeer starts real POP3 peers for integration tests: private
// Dovecot and popa3d servers on free 127.0.0.1 ports, and the real clients
// (Python poplib, fetchmail, mpop, getmail6, curl) that talk to them.
//
// Every helper takes a testing.TB and cleans up with t.Cleanup. A peer that
// is not installed skips the test, except under CI=true, where a missing
// peer fails it: CI must prove the suite ran against the real programs.
// .ci/run installs them all.
//
// A typical test:
//
//	srv := testpeer.StartDovecot(t, testpeer.DovecotOptions{Users: []testpeer.User{
//		{Name: "alice", Password: "pw", Mbox: testpeer.TrickyMbox()},
//	}})
//	// point the code under test at srv.Addr, then fetch through it:
//	msgs := testpeer.Poplib(t, proxyAddr, "alice", "pw")
//
// popa3d users are system accounts with generated names: log in with
// srv.Login("alice"), which is the name itself for Dovecot.
//
// The package is imported only by _test.go files.
package testpeer
