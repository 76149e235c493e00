package pop3test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A transcript is a scripted conversation, one step per line:
//
//	# comment (ignored), blank lines are ignored too
//	C: USER bob          a client line; CRLF is appended
//	C: "STLS\r\nUSER x"  a Go-quoted client line, sent as is (CRLF appended)
//	S: +OK *             an expected server line; * matches any run of
//	                     characters and ? any one character, all else literal
//	TLS                  the client starts a TLS handshake
//	CLOSED               the server must close the connection
//
// Consecutive C: lines are sent in one write, which is how a pipelining
// client behaves. Every read has a deadline, so a wrong script fails instead
// of hanging.

// ReadTimeout bounds every read a transcript makes.
var ReadTimeout = 5 * time.Second

// Transcript is a parsed script.
type Transcript struct {
	Name  string
	Steps []Step
}

// Step is one line of a script.
type Step struct {
	Line int
	Kind string // "C", "S", "TLS" or "CLOSED"
	Text string
}

// LoadTranscript parses the script in file.
func LoadTranscript(file string) (*Transcript, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseTranscript(file, b)
}

// ParseTranscript parses a script.
func ParseTranscript(name string, b []byte) (*Transcript, error) {
	tr := &Transcript{Name: name}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		st := Step{Line: i + 1}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "TLS" || line == "CLOSED":
			st.Kind = line
		case strings.HasPrefix(line, "C: "):
			st.Kind, st.Text = "C", line[3:]
			if strings.HasPrefix(st.Text, `"`) {
				s, err := strconv.Unquote(st.Text)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", name, st.Line, err)
				}
				st.Text = s
			}
		case strings.HasPrefix(line, "S: ") || line == "S:":
			st.Kind, st.Text = "S", strings.TrimPrefix(strings.TrimPrefix(line, "S:"), " ")
		default:
			return nil, fmt.Errorf("%s:%d: unknown step %q", name, st.Line, line)
		}
		tr.Steps = append(tr.Steps, st)
	}
	return tr, nil
}

// Run plays the transcript over conn and reports the first mismatch with
// t.Fatalf. tlsConfig is used by TLS steps. Run closes conn.
func (tr *Transcript) Run(t testing.TB, conn net.Conn, tlsConfig *tls.Config) {
	t.Helper()
	defer conn.Close()
	r := bufio.NewReader(conn)
	var out bytes.Buffer
	flush := func() {
		if out.Len() == 0 {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(ReadTimeout))
		if _, err := conn.Write(out.Bytes()); err != nil {
			t.Fatalf("%s: write: %v", tr.Name, err)
		}
		out.Reset()
	}
	for _, st := range tr.Steps {
		if st.Kind != "C" {
			flush()
		}
		switch st.Kind {
		case "C":
			out.WriteString(st.Text + "\r\n")
		case "S":
			conn.SetReadDeadline(time.Now().Add(ReadTimeout))
			got, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s:%d: want %q, read error %v", tr.Name, st.Line, st.Text, err)
			}
			got = strings.TrimSuffix(got, "\n")
			got = strings.TrimSuffix(got, "\r")
			if !Match(st.Text, got) {
				t.Fatalf("%s:%d: got %q, want %q", tr.Name, st.Line, got, st.Text)
			}
		case "TLS":
			if r.Buffered() > 0 {
				t.Fatalf("%s:%d: %d unread bytes before TLS", tr.Name, st.Line, r.Buffered())
			}
			tc := tls.Client(conn, tlsConfig)
			tc.SetDeadline(time.Now().Add(ReadTimeout))
			if err := tc.Handshake(); err != nil {
				t.Fatalf("%s:%d: TLS handshake: %v", tr.Name, st.Line, err)
			}
			conn = tc
			r = bufio.NewReader(conn)
		case "CLOSED":
			conn.SetReadDeadline(time.Now().Add(ReadTimeout))
			line, err := r.ReadString('\n')
			if !errors.Is(err, io.EOF) && !isReset(err) {
				t.Fatalf("%s:%d: want the connection closed, got %q, %v", tr.Name, st.Line, line, err)
			}
		}
	}
	flush()
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// Match reports whether s matches pattern, where * matches any run of
// characters (slashes and brackets included, unlike path.Match, since POP3
// lines are full of "[SYS/TEMP]") and ? matches one character.
func Match(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if Match(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
}
