package pop3

import (
	"bytes"
	"strconv"
	"strings"
)

// Command is one parsed client command.
type Command struct {
	// Name is the keyword in upper case.
	Name string
	// Args are the space-separated arguments. For PASS the whole rest of the
	// line is one argument, since passwords may contain spaces (RFC 1939
	// section 7).
	Args []string
}

// String renders the command for logs with secrets replaced: every
// argument of PASS, APOP and AUTH, in any form, malformed ones included.
// Only a mechanism name popgate knows survives after AUTH; none of them is
// valid standard base64, so a response sent without a mechanism can never
// be mistaken for one.
func (c Command) String() string {
	switch {
	case len(c.Args) == 0:
		return c.Name
	case c.Name == "PASS" || c.Name == "APOP":
		return c.Name + " ***"
	case c.Name == "AUTH":
		mech := strings.ToUpper(c.Args[0])
		if !loggableMechanisms[mech] {
			return "AUTH ***"
		}
		if len(c.Args) == 1 {
			return "AUTH " + mech
		}
		return "AUTH " + mech + " ***"
	}
	return c.Name + " " + strings.Join(c.Args, " ")
}

// loggableMechanisms are the SASL mechanism names String shows.
var loggableMechanisms = map[string]bool{string(MechPlain): true, string(MechLogin): true, string(MechCRAMMD5): true}

// longArgs names the commands whose arguments are exempt from the 40-octet
// limit: real sites use e-mail addresses as user names, and passwords and
// SASL responses are routinely longer.
var longArgs = map[string]bool{"USER": true, "PASS": true, "APOP": true, "AUTH": true}

// ParseCommand parses a command line without its CRLF.
func ParseCommand(line []byte) (Command, error) {
	if hasCtl(line) {
		return Command{}, ErrBadCommand
	}
	name, rest, _ := bytes.Cut(line, []byte{' '})
	if len(name) == 0 || len(name) > 8 || !isKeyword(name) {
		return Command{}, ErrBadCommand
	}
	cmd := Command{Name: strings.ToUpper(string(name))}
	if len(rest) == 0 {
		return cmd, nil
	}
	// One string for the whole rest: the arguments are slices of it.
	args := string(rest)
	if cmd.Name == "PASS" {
		cmd.Args = []string{args}
		return cmd, nil
	}
	cmd.Args = strings.Fields(args)
	if !longArgs[cmd.Name] {
		for _, a := range cmd.Args {
			if len(a) > MaxArgLen {
				return Command{}, ErrArgTooLong
			}
		}
	}
	return cmd, nil
}

func isKeyword(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MsgNum parses a message-number argument (a positive decimal).
func MsgNum(s string) (int, bool) {
	if s == "" || len(s) > 10 || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Count parses a non-negative decimal argument, such as TOP's line count.
func Count(s string) (int, bool) {
	if s == "0" {
		return 0, true
	}
	return MsgNum(s)
}
