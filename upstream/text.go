package upstream

import (
	"errors"
	"strings"

	"github.com/popgate/popgate/pop3"
)

// maxServerText bounds how much of a server's -ERR text reaches a client.
const maxServerText = 200

// sanitize makes a server's reply text safe to show a client: printable
// ASCII only (anything else becomes '?'), at most maxServerText bytes. An
// empty result is replaced by fallback.
func sanitize(s, fallback string) string {
	if len(s) > maxServerText {
		s = s[:maxServerText]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return fallback
	}
	return s
}

// errBadArg reports a command argument that would break the command line.
var errBadArg = errors.New("upstream: argument contains CR, LF or NUL")

// checkArg rejects an argument that could end the command line early and
// smuggle a second command to the server.
func checkArg(s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return errBadArg
	}
	return nil
}

// knownCode keeps the response codes popgate understands and replaces any
// other (or none) with def.
func knownCode(c, def pop3.Code) pop3.Code {
	switch c {
	case pop3.CodeInUse, pop3.CodeLoginDelay, pop3.CodeSysTemp, pop3.CodeSysPerm, pop3.CodeAuth:
		return c
	}
	return def
}
