// Package logtest captures popgate's JSON log in tests: a buffer the
// logger and the test can use at once, read back as decoded lines.
package logtest

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer safe for concurrent writes and reads. zap
// writes a whole line at a time, so a read never sees half a line.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the JSON log lines whose msg is msg, as field maps (numbers
// are float64). A line that is not JSON, or that repeats a key, fails the
// test.
func (s *Buffer) Lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range s.All(t) {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// All returns every log line as a field map, decoded with DecodeStrict. A
// line that is not JSON, or that repeats a key, fails the test.
func (s *Buffer) All(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(s.String()) {
		m, err := DecodeStrict([]byte(line))
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
