package health

import (
	"context"
	"errors"
	"fmt"

	"github.com/popgate/popgate/pop3"
)

// ErrUnavailable is the cause of a login refused because the backend's last
// health check failed.
var ErrUnavailable = errors.New("backend unavailable: last health check failed")

// Guard returns an Opener that refuses logins to backend at once, with
// [SYS/TEMP], while its last check failed, and otherwise calls op. A backend
// not yet checked is tried. A login the server answered (accepted, or
// refused for the password) counts as a passed check, so a busy backend is
// not probed at all. The returned Opener keeps op's pop3.APOPer.
func (c *Checker) Guard(backend string, op pop3.Opener) pop3.Opener {
	return pop3.WrapOpener(op, func(ctx context.Context, cr pop3.Credentials) (pop3.Mailbox, error) {
		if s, ok := c.lookup(backend); ok && !s.Healthy && !s.Checked.IsZero() {
			return nil, &pop3.Error{
				Code: pop3.CodeSysTemp,
				Text: pop3.ErrBackendTemporary.Text,
				Err: fmt.Errorf("backend %s: user %s: %w (at %s: %w)",
					backend, cr.User, ErrUnavailable, s.Checked.Format("15:04:05"), s.err),
			}
		}
		mb, err := op.Open(ctx, cr)
		if err == nil || pop3.CodeOf(err) == pop3.CodeAuth {
			// The server answered a login: as good as a passed check.
			c.sawAnswer(backend)
		}
		return mb, err
	})
}
