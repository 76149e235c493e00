package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/pop3"
)

// Client texts. They never carry a path or a cause.
const (
	textUnavailable = "unable to open the maildrop"
	textInUse       = "maildrop already in use"
	textChanged     = "maildrop changed, try again"
	textUpdate      = "unable to update the maildrop"
)

// storeError wraps a failure on the maildrop: a permission or a
// configuration problem is SYS/PERM (retrying cannot help until an
// administrator acts), anything else SYS/TEMP.
func (b *Backend) storeError(text, user string, err error) error {
	code := pop3.CodeSysTemp
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
		code = pop3.CodeSysPerm
	}
	var iu *lock.InUseError
	switch {
	case errors.As(err, &iu) || errors.Is(err, lock.ErrTimeout):
		code, text = pop3.CodeInUse, textInUse
	case errors.Is(err, lock.ErrLeaseUnavailable):
		code, text = pop3.CodeSysTemp, textUnavailable
	}
	return &pop3.Error{Code: code, Text: text, Err: fmt.Errorf("backend %s: user %s: %w", b.opts.Name, user, err)}
}
