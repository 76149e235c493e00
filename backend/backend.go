package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/popgate/popgate/backend/index"
	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/backend/maildir"
	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/uidl"
)

// Backend serves native maildrops. It is safe for concurrent use.
type Backend struct {
	opts     Options
	sessions *lock.Sessions
	db       *index.DB
	mboxes   *index.Cache[*mbox.Index]
	maildirs *index.Cache[*maildir.Index]
	listings *listings
	windows  *lru.Cache[string, *mbox.Window]
	closeDB  sync.Once
	// scanned is called after every index load; tests count parse work.
	scanned func(path string, scan string, work int64)
}

var (
	_ pop3.Opener  = (*Backend)(nil)
	_ pop3.APOPer  = (*Backend)(nil)
	_ pop3.Mailbox = (*mailbox)(nil)
)

// New checks o and returns a Backend. Close releases its index file.
func New(o Options) (*Backend, error) {
	if o.Name == "" {
		return nil, errors.New("backend: Name is empty")
	}
	if o.Kind != KindMbox && o.Kind != KindMaildir {
		return nil, fmt.Errorf("backend %s: kind %q is neither mbox nor maildir", o.Name, o.Kind)
	}
	if o.PathPattern == "" || !filepath.IsAbs(o.PathPattern) {
		return nil, fmt.Errorf("backend %s: path pattern %q must be absolute", o.Name, o.PathPattern)
	}
	if o.Auth == nil {
		return nil, fmt.Errorf("backend %s: no authenticator", o.Name)
	}
	s, err := uidl.ParseScheme(string(o.UIDL))
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", o.Name, err)
	}
	o.UIDL = s
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	b := &Backend{opts: o}
	lockDir := ""
	if o.DataDir != "" {
		lockDir = filepath.Join(o.DataDir, "locks")
		if b.db, err = index.OpenDB(o.DataDir); err != nil {
			return nil, fmt.Errorf("backend %s: %w", o.Name, err)
		}
	}
	if b.sessions, err = lock.NewSessions(lockDir); err != nil {
		b.Close()
		return nil, fmt.Errorf("backend %s: %w", o.Name, err)
	}
	if o.Leases != nil {
		b.sessions.ShareThrough(o.Leases, o.Instance)
	}
	if b.mboxes, err = index.NewCache[*mbox.Index](b.db, "mbox/"+o.Name, o.IndexCacheSize); err == nil {
		b.maildirs, err = index.NewCache[*maildir.Index](b.db, "maildir/"+o.Name, o.IndexCacheSize)
	}
	if err == nil {
		b.listings, err = newListings(o.IndexCacheSize)
	}
	if err == nil {
		b.windows, err = lru.NewWithEvict(keptWindows, func(_ string, w *mbox.Window) { w.Close() })
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("backend %s: %w", o.Name, err)
	}
	return b, nil
}

func (b *Backend) parseConfig() mbox.Config {
	return mbox.Config{Scheme: b.opts.UIDL, Hide: b.opts.HideHeaders}
}

// Close releases the index file and stops retrying to drop session leases
// a store outage left behind. Open mailboxes stay usable. Only the first
// call does anything.
func (b *Backend) Close() error {
	var err error
	b.closeDB.Do(func() {
		if b.sessions != nil {
			b.sessions.Close()
		}
		if b.windows != nil {
			b.windows.Purge()
		}
		// Pending index writes go out before the file closes.
		if b.mboxes != nil {
			b.mboxes.Close()
		}
		if b.maildirs != nil {
			b.maildirs.Close()
		}
		if b.db != nil {
			err = b.db.Close()
		}
	})
	return err
}

// SupportsAPOP reports whether the authenticator can check APOP digests
// for some user: its own SupportsAPOP when it has one (a users file knows
// whether it holds any plain secret), else whether it is an APOPChecker.
func (b *Backend) SupportsAPOP() bool {
	if a, ok := b.opts.Auth.(pop3.APOPer); ok {
		return a.SupportsAPOP()
	}
	_, ok := b.opts.Auth.(APOPChecker)
	return ok
}

// Open authenticates c and opens the user's maildrop.
func (b *Backend) Open(ctx context.Context, c pop3.Credentials) (pop3.Mailbox, error) {
	path, err := expandPath(b.opts.PathPattern, c.User)
	if err != nil {
		// Same answer as an unknown user: no enumeration through odd names.
		return nil, &pop3.Error{Code: pop3.CodeAuth, Text: pop3.ErrAuthFailed.Text,
			Err: fmt.Errorf("backend %s: user %q: %w", b.opts.Name, c.User, err)}
	}
	if c.Mechanism == pop3.MechAPOP || c.Mechanism == pop3.MechCRAMMD5 {
		// Both are digests over a shared secret: only a plain one will do.
		if ac, ok := b.opts.Auth.(APOPChecker); !ok || !ac.CanAPOP(c.User) {
			return nil, &pop3.Error{Code: pop3.CodeAuth, Text: pop3.ErrAuthFailed.Text,
				Err: fmt.Errorf("backend %s: user %s: APOP not available", b.opts.Name, c.User)}
		}
	}
	if err := b.opts.Auth.Authenticate(ctx, c); err != nil {
		return nil, err
	}
	sess, err := b.sessions.Acquire(path, c.SessionID)
	if err != nil {
		return nil, b.storeError(textInUse, c.User, err)
	}
	var d drop
	if b.opts.Kind == KindMbox {
		d, err = b.openMbox(ctx, path)
	} else {
		d, err = b.openMaildir(path)
	}
	if err != nil {
		sess.Release()
		return nil, b.storeError(textUnavailable, c.User, err)
	}
	return newMailbox(b, c.User, path, d, func() { sess.Release() }), nil
}

func (b *Backend) noteScan(path, scan string, work int64) {
	if b.scanned != nil {
		b.scanned(path, scan, work)
	}
}

// MaildropState is what an administrator can see of a user's maildrop
// without opening it.
type MaildropState struct {
	Kind string `json:"kind"` // KindMbox or KindMaildir
	Path string `json:"path"`
	// Spool is the mbox spool's locks; nil for a Maildir, which is not
	// locked.
	Spool *lock.SpoolState `json:"spool,omitempty"`
	// RepairPending is true when an mbox rewrite was interrupted (its
	// journal is there): the next session repairs the spool first.
	RepairPending bool `json:"repair_pending,omitempty"`
}

// Maildrop returns the state of user's maildrop; path is also the key of
// its session lock (and of the lease shared with other instances).
func (b *Backend) Maildrop(user string) (MaildropState, error) {
	path, err := expandPath(b.opts.PathPattern, user)
	if err != nil {
		return MaildropState{}, fmt.Errorf("backend %s: user %q: %w", b.opts.Name, user, err)
	}
	m := MaildropState{Kind: string(b.opts.Kind), Path: path}
	if b.opts.Kind == KindMbox {
		s := lock.InspectSpool(path)
		m.Spool = &s
		_, err := os.Lstat(mbox.JournalPath(path))
		m.RepairPending = err == nil
	}
	return m, nil
}
