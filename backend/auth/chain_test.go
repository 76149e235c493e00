package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/popgate/popgate/pop3"
)

func TestChainFileFirstThenDelegate(t *testing.T) {
	file := loadUsers(t, "moved:{PLAIN}new", "alice:"+bcryptHash(t, "wonderland"))
	var asked atomic.Int32
	legacyErr := error(nil)
	legacy := Delegate(pop3.OpenerFunc(func(_ context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
		asked.Add(1)
		if legacyErr != nil {
			return nil, legacyErr
		}
		if c.Password != "old" {
			return nil, pop3.ErrAuthFailed
		}
		return connMailbox{conn: nopConn{}}, nil
	}), DelegateOptions{CacheTTL: -1})
	c := Chain(file, legacy)

	if err := login(c, "moved", "new"); err != nil || asked.Load() != 0 {
		t.Errorf("user in the file: err=%v, legacy asked %d times; want nil, 0", err, asked.Load())
	}
	// A wrong password for a user in the file is final: the old legacy
	// password must not work any more.
	wantRefusal(t, login(c, "moved", "old"), ErrWrongPassword)
	if asked.Load() != 0 {
		t.Errorf("legacy asked %d times for a user in the file", asked.Load())
	}
	if err := login(c, "bob", "old"); err != nil || asked.Load() != 1 {
		t.Errorf("user only on legacy: err=%v, legacy asked %d times; want nil, 1", err, asked.Load())
	}
	wantRefusal(t, login(c, "bob", "bad"), nil)

	legacyErr = errors.New("connection refused")
	if err := login(c, "bob", "old"); pop3.CodeOf(err) != pop3.CodeSysTemp {
		t.Errorf("legacy down: err = %v, want [SYS/TEMP]", err)
	}

	if !c.SupportsAPOP() || !c.CanAPOP("moved") || c.CanAPOP("alice") || c.CanAPOP("bob") {
		t.Errorf("chain APOP answers wrong: Supports=%v moved=%v alice=%v bob=%v",
			c.SupportsAPOP(), c.CanAPOP("moved"), c.CanAPOP("alice"), c.CanAPOP("bob"))
	}
	wantRefusal(t, login(Chain(), "x", "y"), ErrUnknownUser)
}
