package throttle

import (
	"context"
	"io"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/popgate/popgate/pop3"
)

// shaped is a Mailbox whose RETR and TOP bodies are limited to one rate
// for the whole session (one budget shared by all commands). Reads stop
// with the command's ctx error when it ends.
type shaped struct {
	pop3.Mailbox
	lim   *rate.Limiter
	burst int
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	caps  []string
	// slept is the time RETR and TOP were held back, for the session
	// line. Only the session's goroutine reads bodies and the Report.
	slept time.Duration
}

var (
	_ pop3.Mailbox  = (*shaped)(nil)
	_ pop3.Capabler = (*shaped)(nil)
)

// minBurst keeps reads of a slow session from shrinking to a few bytes.
const minBurst = 1024

func newShaped(m pop3.Mailbox, bps int, now func() time.Time, sleep func(context.Context, time.Duration) error, caps []string) *shaped {
	// A tenth of a second's worth per read keeps the pacing smooth.
	burst := min(max(bps/10, minBurst), bps)
	return &shaped{Mailbox: m, lim: rate.NewLimiter(rate.Limit(bps), burst), burst: burst, now: now, sleep: sleep, caps: caps}
}

// Retr returns message n, paced.
func (s *shaped) Retr(ctx context.Context, n int) (io.ReadCloser, error) {
	r, err := s.Mailbox.Retr(ctx, n)
	if err != nil {
		return nil, err
	}
	return s.pace(ctx, r), nil
}

// Top returns the head of message n, paced.
func (s *shaped) Top(ctx context.Context, n, lines int) (io.ReadCloser, error) {
	r, err := s.Mailbox.Top(ctx, n, lines)
	if err != nil {
		return nil, err
	}
	return s.pace(ctx, r), nil
}

// pace wraps a message reader in the session's limiter, keeping its Size
// if it has one.
func (s *shaped) pace(ctx context.Context, r io.ReadCloser) io.ReadCloser {
	return pop3.KeepSize(&shapedReader{ctx: ctx, r: r, s: s}, r)
}

// Caps returns the wrapped Mailbox's capabilities plus the throttle's.
func (s *shaped) Caps() []string {
	return slices.Concat(pop3.CapsOf(s.Mailbox), s.caps)
}

// shapedReader pays for each chunk after reading it, so it never reserves
// bytes that were not there.
type shapedReader struct {
	ctx context.Context
	r   io.ReadCloser
	s   *shaped
}

func (r *shapedReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > r.s.burst {
		p = p[:r.s.burst]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		now := r.s.now()
		if d := r.s.lim.ReserveN(now, n).DelayFrom(now); d > 0 {
			serr := r.s.sleep(r.ctx, d)
			r.s.slept += r.s.now().Sub(now)
			if serr != nil {
				return n, serr
			}
		}
	}
	return n, err
}

func (r *shapedReader) Close() error { return r.r.Close() }
