package auth

import (
	"bytes"
	"testing"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
)

// Delegation against a real Dovecot: its [AUTH] refusal is a refusal, and a
// check leaves the legacy maildrop's messages in place.
func TestDelegateToDovecot(t *testing.T) {
	srv := testpeer.StartDovecot(t, testpeer.DovecotOptions{
		Users: []testpeer.User{{Name: "rachel", Password: "legacy pw", Mbox: testpeer.SimpleMbox(3)}},
		Extra: "auth_failure_delay = 0\n",
	})
	d := Delegate(dialOpener(srv.Addr), DelegateOptions{Name: "dovecot", CacheTTL: -1})
	for range 2 {
		if err := login(d, srv.Login("rachel"), "legacy pw"); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	err := login(d, srv.Login("rachel"), "wrong pw")
	wantRefusal(t, err, nil)
	if pop3.CodeOf(err) != pop3.CodeAuth {
		t.Errorf("Dovecot refusal: code %q, want AUTH", pop3.CodeOf(err))
	}
	wantRefusal(t, login(d, "nobody", "legacy pw"), nil)

	if n := bytes.Count(srv.Mbox(t, "rachel"), []byte("\nFrom ")) + 1; n != 3 {
		t.Errorf("legacy mbox holds %d messages after the checks, want 3", n)
	}
}
