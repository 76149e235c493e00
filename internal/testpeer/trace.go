package testpeer

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// traceSyntax describes how a client prints its POP3 dialogue in debug mode.
type traceSyntax struct {
	send, recv string // prefixes of client and server lines
	anywhere   bool   // the prefix may follow other output on the same line
	bodies     bool   // RETR/TOP bodies are printed
}

// protocolTrace is what a client's debug output shows it did.
type protocolTrace struct {
	uidls   map[int]string // message number -> UIDL, from UIDL responses
	fetched []int          // message numbers in RETR/TOP order
}

// parseTrace follows the dialogue with a queue of sent commands, so that
// pipelined commands (mpop) are matched with their responses in order.
func parseTrace(out []byte, syn traceSyntax) (protocolTrace, error) {
	tr := protocolTrace{uidls: map[int]string{}}
	var queue []string // commands awaiting their status line
	var body string    // the multi-line command whose body is being read
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<24)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if syn.anywhere {
			if i := strings.LastIndex(line, syn.send); i > 0 {
				line = line[i:]
			} else if i := strings.LastIndex(line, syn.recv); i > 0 {
				line = line[i:]
			}
		}
		switch {
		case strings.HasPrefix(line, syn.send):
			cmd := strings.Fields(strings.ToUpper(strings.TrimPrefix(line, syn.send)))
			if len(cmd) == 0 {
				continue
			}
			if (cmd[0] == "RETR" || cmd[0] == "TOP") && len(cmd) > 1 {
				n, err := strconv.Atoi(cmd[1])
				if err != nil {
					return tr, fmt.Errorf("trace: bad command %q", line)
				}
				tr.fetched = append(tr.fetched, n)
			}
			queue = append(queue, strings.Join(cmd, " "))
		case strings.HasPrefix(line, syn.recv):
			resp := strings.TrimPrefix(line, syn.recv)
			if body != "" {
				if resp == "." {
					body = ""
				} else if body == "UIDL" {
					if err := tr.addUIDL(resp); err != nil {
						return tr, err
					}
				}
				continue
			}
			if len(queue) == 0 {
				continue // the greeting, or a continuation we do not track
			}
			cmd := queue[0]
			queue = queue[1:]
			if !strings.HasPrefix(resp, "+OK") {
				continue
			}
			switch {
			case cmd == "UIDL" || cmd == "LIST" || cmd == "CAPA":
				body = cmd
			case strings.HasPrefix(cmd, "UIDL "):
				if err := tr.addUIDL(strings.TrimSpace(strings.TrimPrefix(resp, "+OK"))); err != nil {
					return tr, err
				}
			case strings.HasPrefix(cmd, "RETR") || strings.HasPrefix(cmd, "TOP"):
				if syn.bodies {
					body = cmd
				}
			}
		}
	}
	return tr, sc.Err()
}

func (tr protocolTrace) addUIDL(line string) error {
	f := strings.Fields(line)
	if len(f) != 2 {
		return fmt.Errorf("trace: bad UIDL line %q", line)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return fmt.Errorf("trace: bad UIDL line %q", line)
	}
	tr.uidls[n] = f[1]
	return nil
}

// messages pairs the delivered bodies with the fetched messages' UIDLs.
func (tr protocolTrace) messages(bodies [][]byte) ([]Message, error) {
	if len(bodies) != len(tr.fetched) {
		return nil, fmt.Errorf("fetched %d messages but delivered %d", len(tr.fetched), len(bodies))
	}
	msgs := make([]Message, len(bodies))
	for i, b := range bodies {
		msgs[i] = Message{UIDL: tr.uidls[tr.fetched[i]], Body: b}
	}
	return msgs, nil
}
