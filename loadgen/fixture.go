package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sizes describes the body sizes of generated messages: every message is
// between Min and Max bytes, uniformly, from a fixed seed so that the same
// fixture is generated every time.
type Sizes struct{ Min, Max int }

// ParseSizes parses "4096" or "1024-65536".
func ParseSizes(s string) (Sizes, error) {
	lo, hi, found := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 0 {
		return Sizes{}, fmt.Errorf("bad size %q", s)
	}
	b := a
	if found {
		if b, err = strconv.Atoi(hi); err != nil || b < a {
			return Sizes{}, fmt.Errorf("bad size range %q", s)
		}
	}
	return Sizes{a, b}, nil
}

// message writes one message of about size bytes with LF line ends.
func message(w io.Writer, rng *rand.Rand, user string, i, size int) {
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	fmt.Fprintf(w, "Received: from sender%d.example.org by mail.example.net; %s\n", i%97, date.Format(time.RFC1123Z))
	fmt.Fprintf(w, "Date: %s\nFrom: Sender %d <sender%d@example.org>\nTo: %s@example.net\n", date.Format(time.RFC1123Z), i%97, i%97, user)
	fmt.Fprintf(w, "Subject: load test message %d\nMessage-ID: <%d.%s@loadgen.example>\n\n", i, i, user)
	const line = "The quick brown fox jumps over the lazy dog, again and again and again.\n"
	for n := 0; n < size; {
		k := min(len(line), size-n)
		if rng.IntN(50) == 0 && k > 1 {
			io.WriteString(w, "."+line[1:k]) // exercise dot-stuffing
		} else {
			io.WriteString(w, line[:k])
		}
		n += k
	}
	if size%len(line) != 0 {
		io.WriteString(w, "\n")
	}
}

func (s Sizes) pick(rng *rand.Rand) int {
	if s.Max <= s.Min {
		return s.Min
	}
	return s.Min + rng.IntN(s.Max-s.Min+1)
}

// WriteMbox writes an mbox of count messages for user to path.
func WriteMbox(path, user string, count int, sizes Sizes) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	rng := rand.New(rand.NewPCG(uint64(count), 1))
	for i := 1; i <= count; i++ {
		fmt.Fprintf(w, "From sender%d@example.org Mon Jan  1 00:00:00 2024\n", i%97)
		message(w, rng, user, i, sizes.pick(rng))
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteMaildir writes count messages for user into the Maildir at dir
// (creating new/, cur/ and tmp/).
func WriteMaildir(dir, user string, count int, sizes Sizes) error {
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(uint64(count), 1))
	for i := 1; i <= count; i++ {
		var b strings.Builder
		message(&b, rng, user, i, sizes.pick(rng))
		name := fmt.Sprintf("%d.M%dP1.loadgen,S=%d", 1700000000+i, i, b.Len())
		if err := os.WriteFile(filepath.Join(dir, "new", name), []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	return nil
}
