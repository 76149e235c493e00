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

// credentialWords are phrases by which servers that send no response code
// say the credentials were wrong: Dovecot's "Authentication failed",
// popa3d's "Authentication failed (bad password?)", qpopper's "Password
// supplied for ... is incorrect", and the common wordings of the rest.
var credentialWords = []string{
	"authentication fail", "auth fail", "password", "passwd", "credential",
	"login fail", "login incorrect", "invalid login", "bad login", "incorrect",
	"unknown user", "user unknown", "no such user", "invalid user", "bad user",
}

// loginCode is the response code a client sees for a refused USER, PASS or
// AUTH. RFC 3206 [AUTH] tells a client to ask its user for a new password,
// so it is given only when the server said [AUTH] or its text says the
// credentials are wrong. Any other refusal (an overloaded server's
// "Connection queue full", a bare -ERR, an unknown code) is [SYS/TEMP].
func loginCode(resp pop3.Response) pop3.Code {
	if c := knownCode(resp.Code, pop3.CodeNone); c != pop3.CodeNone {
		return c
	}
	text := strings.ToLower(resp.Text)
	for _, w := range credentialWords {
		if strings.Contains(text, w) {
			return pop3.CodeAuth
		}
	}
	return pop3.CodeSysTemp
}
