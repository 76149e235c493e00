package logging

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// rfc5424 matches the header WithSyslog writes and captures PRI, the
// timestamp, APP-NAME, PROCID, MSGID and MSG.
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\S+) \S+ (\S+) (\d+) (\S+) - (.*)$`)

// readDatagram reads one datagram within a deadline.
func readDatagram(t *testing.T, c net.PacketConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no syslog datagram: %v", err)
	}
	return string(buf[:n])
}

// checkMessage parses one datagram and checks it against what was logged.
func checkMessage(t *testing.T, d string, pri int, msgid string, wantMsg string) map[string]any {
	t.Helper()
	m := rfc5424.FindStringSubmatch(d)
	if m == nil {
		t.Fatalf("not RFC 5424: %q", d)
	}
	if got, _ := strconv.Atoi(m[1]); got != pri {
		t.Errorf("PRI = %s, want %d", m[1], pri)
	}
	ts, err := time.Parse(time.RFC3339Nano, m[2])
	if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < 0 {
		t.Errorf("timestamp %q: %v", m[2], err)
	}
	if m[3] != "popgate" || m[4] != strconv.Itoa(os.Getpid()) || m[5] != msgid {
		t.Errorf("APP-NAME %q PROCID %q MSGID %q", m[3], m[4], m[5])
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(m[6]), &body); err != nil {
		t.Fatalf("MSG is not JSON: %q", m[6])
	}
	if body["msg"] != wantMsg {
		t.Errorf("msg = %v", body["msg"])
	}
	return body
}

func TestSyslogOverUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var stdout bytes.Buffer
	base, lvl, err := New(&stdout, Console, zapcore.InfoLevel)
	if err != nil {
		t.Fatal(err)
	}
	log, closeSyslog, err := WithSyslog(base, lvl, "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer closeSyslog()

	log.With(zap.String("component", "proxy")).Info("session", zap.String("user", "alice"), zap.Int("retr_bytes", 42))
	body := checkMessage(t, readDatagram(t, pc), 2*8+6, "session", "session")
	if body["user"] != "alice" || body["retr_bytes"] != float64(42) || body["component"] != "proxy" {
		t.Errorf("fields lost: %v", body)
	}
	log.Warn("routes reload failed; keeping the previous table")
	checkMessage(t, readDatagram(t, pc), 2*8+4, "-", "routes reload failed; keeping the previous table")
	log.Debug("below the level")
	log.Error("shutdown")
	checkMessage(t, readDatagram(t, pc), 2*8+3, "shutdown", "shutdown")

	if !bytes.Contains(stdout.Bytes(), []byte("alice")) {
		t.Error("the standard output copy is missing")
	}
}

func TestSyslogOverUnixgramSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	listen := func() net.PacketConn {
		pc, err := net.ListenPacket("unixgram", path)
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}
	pc := listen()
	log, closeSyslog, err := WithSyslog(zap.NewNop(), zapcore.InfoLevel, "unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSyslog()
	log.Info("session", zap.String("user", "bob"))
	if body := checkMessage(t, readDatagram(t, pc), 22, "session", "session"); body["user"] != "bob" {
		t.Errorf("user = %v", body["user"])
	}

	// The daemon restarts: a new socket at the same path.
	pc.Close()
	os.Remove(path)
	pc = listen()
	defer pc.Close()
	log.Info("session", zap.String("user", "carol"))
	if body := checkMessage(t, readDatagram(t, pc), 22, "session", "session"); body["user"] != "carol" {
		t.Errorf("after the restart, user = %v", body["user"])
	}
}

func TestSyslogRefusesUnknownTarget(t *testing.T) {
	if _, _, err := WithSyslog(zap.NewNop(), zapcore.InfoLevel, "tcp", "127.0.0.1:514"); err == nil {
		t.Error("tcp accepted")
	}
	if _, _, err := WithSyslog(zap.NewNop(), zapcore.InfoLevel, "unixgram", filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing socket accepted")
	}
}
