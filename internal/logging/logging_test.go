package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestJSONLinesWithISO8601Time(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New(&buf, JSON, zapcore.InfoLevel)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("session", zap.String("user", "alice"), zap.Int64("retr_bytes", 42))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %q: %v", buf.String(), err)
	}
	if m["msg"] != "session" || m["user"] != "alice" || m["retr_bytes"] != float64(42) || m["level"] != "info" {
		t.Errorf("line = %v", m)
	}
	ts, _ := m["time"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z0700", ts); err != nil {
		t.Errorf("time %q is not ISO 8601: %v", ts, err)
	}
}

func TestNoSampling(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New(&buf, JSON, zapcore.InfoLevel)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500 // production sampling would keep 100 + every 100th
	for range n {
		log.Info("session")
	}
	if got := strings.Count(buf.String(), "\n"); got != n {
		t.Errorf("%d lines logged, want %d", got, n)
	}
}

func TestAtomicLevel(t *testing.T) {
	var buf bytes.Buffer
	log, lvl, err := New(&buf, Console, zapcore.WarnLevel)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	lvl.SetLevel(zapcore.DebugLevel)
	log.Debug("shown")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "shown") || !strings.Contains(out, "DEBUG") {
		t.Errorf("output = %q", out)
	}
	if strings.HasPrefix(out, "{") {
		t.Errorf("console format wrote JSON: %q", out)
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, _, err := New(&bytes.Buffer{}, "xml", zapcore.InfoLevel); err == nil {
		t.Error("no error")
	}
}

func TestIsJournalStream(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	if !IsJournalStream(f, []string{"HOME=/", "JOURNAL_STREAM=" + id}) {
		t.Errorf("%s is not recognised as the journal stream %s", f.Name(), id)
	}
	if IsJournalStream(f, []string{"JOURNAL_STREAM=1:2"}) {
		t.Error("another stream is taken for the journal")
	}
	if IsJournalStream(f, nil) {
		t.Error("without JOURNAL_STREAM, a file is taken for the journal")
	}
	if IsJournalStream(&bytes.Buffer{}, []string{"JOURNAL_STREAM=" + id}) {
		t.Error("a buffer is taken for the journal")
	}
}
