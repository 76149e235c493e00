package poison

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/uidl"
)

// What to do with a flagged message (Options.Action).
const (
	ActionNone    = "none"    // only warn and count
	ActionSkip    = "skip"    // hide it from the user's clients
	ActionReplace = "replace" // serve a notice in its place
)

// DefaultLimit is the number of broken transfers in a row that flags a
// message.
const DefaultLimit = 3

// storeTimeout bounds the store calls made as a session ends.
const storeTimeout = 5 * time.Second

// Options configure the Decorator.
type Options struct {
	Store store.BreakStore
	// Limit is the broken transfers in a row that flag a message; 0 turns
	// the detection off.
	Limit int
	// Action is ActionNone (or empty), ActionSkip or ActionReplace.
	Action string
	// Hostname names the sender of the replacement notice.
	Hostname string
	Logger   *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) logger() *zap.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return zap.NewNop()
}

// ValidAction reports whether a is an Action.
func ValidAction(a string) bool {
	switch a {
	case "", ActionNone, ActionSkip, ActionReplace:
		return true
	}
	return false
}

// holds reports whether flagged messages are held from the client.
func (o *Options) holds() bool { return o.Action == ActionSkip || o.Action == ActionReplace }

// Decorator watches each session's transfers; it implements
// session.Decorator.
type Decorator struct{ o Options }

var _ session.Decorator = (*Decorator)(nil)

// New returns a Decorator with o.
func New(o Options) *Decorator { return &Decorator{o: o} }

// heldUIDL is the unique-id of the notice served for the poison message
// u: a different one, so that a client fetches the message itself once it
// is released.
func heldUIDL(u string) string {
	if h := "held-" + u; len(h) <= uidl.MaxLen {
		return h
	}
	sum := sha256.Sum256([]byte(u))
	return "held-" + hex.EncodeToString(sum[:16])
}

// flagged logs the warning for a message that just became poison.
func (o *Options) flagged(user, backend string, m store.BrokenMessage) {
	o.logger().Warn("poison message: the client broke off the same message every time",
		zap.String("user", user), zap.String("backend", backend),
		zap.Int("msg_num", m.Num), zap.String("uidl", m.UIDL), zap.Int64("size", m.Size),
		zap.String("message_id", m.MessageID), zap.String("subject", m.Subject),
		zap.String("client", m.Client), zap.Int("breaks", m.Breaks),
		zap.Time("first_break", m.First), zap.String("action", o.actionName()))
}

func (o *Options) actionName() string {
	if o.Action == "" {
		return ActionNone
	}
	return o.Action
}

// Release forgets user's poison message uidl, so that clients see it
// again, and any streak on it. It reports whether uidl was flagged.
func Release(ctx context.Context, st store.BreakStore, user, uidl string) (bool, error) {
	b, err := st.Breaks(ctx, user)
	if err != nil {
		return false, err
	}
	found := false
	kept := b.Poison[:0]
	for _, p := range b.Poison {
		if p.UIDL == uidl {
			found = true
			continue
		}
		kept = append(kept, p)
	}
	b.Poison = kept
	if b.Streak.UIDL == uidl {
		b.Streak = store.BrokenMessage{}
	}
	if !found {
		return false, nil
	}
	if err := st.SetBreaks(ctx, user, b); err != nil {
		return false, fmt.Errorf("releasing %s of %s: %w", uidl, user, err)
	}
	return true, nil
}
