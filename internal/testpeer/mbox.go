package testpeer

import (
	"bytes"
	"fmt"
	"strings"
)

// fromLine is the mbox separator used for generated messages.
const fromLine = "From testpeer@example.org Mon Jan  5 10:00:00 2004\n"

// TrickyMbox returns an mbox (LF line ends) whose messages exercise what
// byte-faithful POP3 handling must get right, in this order:
//
//  1. body lines starting with "." and "..", and a lone "." line
//  2. a ">From " quoted line, and an unquoted "From " line that is no
//     separator because no blank line precedes it
//  3. a single 100 KB body line
//  4. 8-bit bytes (Latin-1 and UTF-8) and a NUL byte
//  5. an empty body (headers, blank line, nothing else)
//  6. no final newline (last in the file)
func TrickyMbox() []byte {
	var b bytes.Buffer
	msg := func(n int, subject, body string) {
		b.WriteString(fromLine)
		fmt.Fprintf(&b, "From: Tricky <tricky@example.org>\nTo: user@example.net\n")
		fmt.Fprintf(&b, "Subject: %s\nMessage-ID: <tricky-%d@example.org>\n\n", subject, n)
		b.WriteString(body)
	}
	msg(1, "dots", ".starts with a dot\n..starts with two dots\n.\nafter a lone dot\n\n")
	msg(2, "from lines", "quoted:\n>From the quoted line\nunquoted, no blank line before:\nFrom here, not a separator\nend\n\n")
	msg(3, "long line", strings.Repeat("0123456789", 10*1024)+"\n\n")
	msg(4, "eight bit", "latin1: caf\xe9 na\xefve\nutf-8: caf\xc3\xa9 \xe2\x82\xac\nnul: a\x00b\n\n")
	msg(5, "empty body", "\n")
	msg(6, "no final newline", "the last line has no newline")
	return b.Bytes()
}

// TrickyCount is the number of messages in TrickyMbox.
const TrickyCount = 6

// SimpleMbox returns an mbox of n small, distinct messages (LF line ends).
func SimpleMbox(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		b.WriteString(fromLine)
		fmt.Fprintf(&b, "From: Sender <sender@example.org>\nTo: user@example.net\n")
		fmt.Fprintf(&b, "Subject: message %d\nMessage-ID: <simple-%d@example.org>\n\n", i, i)
		fmt.Fprintf(&b, "This is message %d.\n\n", i)
	}
	return b.Bytes()
}

// MboxMessage wraps one RFC 5322 message (LF line ends) as an mbox entry:
// a From_ line, the message with its "From " lines quoted, and the blank
// separator line.
func MboxMessage(msg []byte) []byte {
	var b bytes.Buffer
	b.WriteString(fromLine)
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("From ")) {
			b.WriteByte('>')
		}
		b.Write(line)
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// SplitMbox splits an mbox into its messages, without the From_ lines and
// without the blank line that separates each from the next. A "From " line
// separates messages only at the start of the file or after a blank line.
func SplitMbox(mbox []byte) [][]byte {
	var msgs [][]byte
	var cur []byte
	inMsg := false
	prevBlank := true
	for _, line := range bytes.SplitAfter(mbox, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if prevBlank && bytes.HasPrefix(line, []byte("From ")) {
			if inMsg {
				msgs = append(msgs, bytes.TrimSuffix(cur, []byte("\n")))
			}
			cur, inMsg, prevBlank = nil, true, false
			continue
		}
		prevBlank = string(line) == "\n"
		if inMsg {
			cur = append(cur, line...)
		}
	}
	if inMsg {
		if bytes.HasSuffix(cur, []byte("\n\n")) {
			cur = cur[:len(cur)-1]
		}
		msgs = append(msgs, cur)
	}
	return msgs
}
