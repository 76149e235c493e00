package pop3

import "errors"

// Code is an RFC 2449 extended response code, sent as "-ERR [CODE] text".
type Code string

// Response codes from RFC 2449 section 8 and RFC 3206.
const (
	CodeNone       Code = ""
	CodeInUse      Code = "IN-USE"      // the maildrop is locked by another session
	CodeLoginDelay Code = "LOGIN-DELAY" // logged in too soon after the last login
	CodeSysTemp    Code = "SYS/TEMP"    // temporary problem; retry later
	CodeSysPerm    Code = "SYS/PERM"    // permanent problem; tell the user
	CodeAuth       Code = "AUTH"        // bad credentials; re-prompt
)

// Error is a POP3 failure. Text is what the client sees and must stay short
// and generic: never a path, an address or a configuration value. Err is the
// internal cause, for logs only.
type Error struct {
	Code Code
	Text string
	Err  error
}

func (e *Error) Error() string {
	s := "pop3: "
	if e.Code != CodeNone {
		s += "[" + string(e.Code) + "] "
	}
	s += e.Text
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed.
func (e *Error) Temporary() bool {
	switch e.Code {
	case CodeSysTemp, CodeInUse, CodeLoginDelay:
		return true
	}
	return false
}

// Is matches another *Error with the same code and text, so that
// errors.Is(err, ErrAuthFailed) holds for wrapped copies of a sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Text == e.Text
}

// CodeOf returns the response code carried by err, or CodeNone.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeNone
}

// Sentinel errors. Each one is also a valid client reply.
var (
	ErrLineTooLong      = &Error{Text: "line too long"}
	ErrArgTooLong       = &Error{Text: "argument too long"}
	ErrBadCommand       = &Error{Text: "malformed command"}
	ErrAuthFailed       = &Error{Code: CodeAuth, Text: "authentication failed"}
	ErrNoSuchMessage    = &Error{Text: "no such message"}
	ErrMessageDeleted   = &Error{Text: "message already deleted"}
	ErrBadResponse      = errors.New("pop3: malformed response line")
	ErrUnexpectedEOF    = errors.New("pop3: connection closed inside a multi-line response")
	ErrUnsupported      = &Error{Text: "not supported by this mailbox"}
	ErrInternal         = &Error{Code: CodeSysTemp, Text: "internal error"}
	ErrBackendTemporary = &Error{Code: CodeSysTemp, Text: "mail server temporarily unavailable"}
)
