package testpeer

import "testing"

// The constructors below are being implemented; until then they fail the
// test that uses them rather than pass it silently.

// NewFetchmail returns a fetchmail client (keep mode, --uidl).
func NewFetchmail(t testing.TB, addr, user, pass string) *Poller {
	t.Fatalf("testpeer: fetchmail client not implemented yet")
	return nil
}

// NewMpop returns an mpop client (keep mode).
func NewMpop(t testing.TB, addr, user, pass string) *Poller {
	t.Fatalf("testpeer: mpop client not implemented yet")
	return nil
}

// NewGetmail returns a getmail6 client (keep mode, read_all off).
func NewGetmail(t testing.TB, addr, user, pass string) *Poller {
	t.Fatalf("testpeer: getmail client not implemented yet")
	return nil
}

// NewCurl returns a curl pop3:// client.
func NewCurl(t testing.TB, addr, user, pass string) *Poller {
	t.Fatalf("testpeer: curl client not implemented yet")
	return nil
}
