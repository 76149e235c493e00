package pop3

import (
	"bytes"
	"strings"
)

// Response is one parsed server status line.
type Response struct {
	// OK is true for "+OK".
	OK bool
	// Continue is true for a SASL continuation ("+ base64").
	Continue bool
	// Code is the bracketed response code of an -ERR (or +OK) line, if any.
	Code Code
	// Text is the rest of the line after the status and code.
	Text string
}

// ParseResponse parses a status line without its CRLF.
func ParseResponse(line []byte) (Response, error) {
	var r Response
	var rest []byte
	switch {
	case hasPrefixFold(line, "+OK"):
		r.OK, rest = true, line[3:]
	case hasPrefixFold(line, "-ERR"):
		rest = line[4:]
	case len(line) >= 1 && line[0] == '+' && (len(line) == 1 || line[1] == ' '):
		r.Continue = true
		r.Text = strings.TrimPrefix(string(line[1:]), " ")
		return r, nil
	default:
		return Response{}, ErrBadResponse
	}
	if len(rest) > 0 && rest[0] != ' ' {
		return Response{}, ErrBadResponse
	}
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) > 0 && rest[0] == '[' {
		if end := bytes.IndexByte(rest, ']'); end > 1 && isCode(rest[1:end]) {
			r.Code = Code(bytes.ToUpper(rest[1:end]))
			rest = bytes.TrimLeft(rest[end+1:], " ")
		}
	}
	r.Text = string(rest)
	return r, nil
}

func isCode(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '/') {
			return false
		}
	}
	return true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// Err converts an -ERR response into an *Error carrying the server's text.
func (r Response) Err() *Error {
	if r.OK {
		return nil
	}
	return &Error{Code: r.Code, Text: r.Text}
}

// String renders the response as a status line without CRLF.
func (r Response) String() string { return string(r.appendTo(nil)) }

// appendTo appends the status line without CRLF to b.
func (r Response) appendTo(b []byte) []byte {
	switch {
	case r.Continue:
		return append(append(b, "+ "...), r.Text...)
	case r.OK:
		b = append(b, "+OK"...)
	default:
		b = append(b, "-ERR"...)
	}
	if r.Code != CodeNone {
		b = append(append(append(b, " ["...), r.Code...), ']')
	}
	if r.Text != "" {
		b = append(append(b, ' '), r.Text...)
	}
	return b
}
