package logging

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// facilityMail is the syslog facility of mail systems (RFC 5424 section
// 6.2.1), where the old POP servers' lines went.
const facilityMail = 2

// appName is RFC 5424's APP-NAME field.
const appName = "popgate"

// WithSyslog returns log with a copy of every line at level and above sent
// to a syslog server as one RFC 5424 datagram, its MSG the line as JSON.
// network is "udp" (address HOST:PORT) or "unixgram" (the path of a socket
// such as /dev/log). The standard library's log/syslog writes the older BSD
// format without a year or time zone, so the header is written here. Close
// the returned closer after the last line.
func WithSyslog(log *zap.Logger, level zapcore.LevelEnabler, network, address string) (*zap.Logger, func() error, error) {
	w, err := dialSyslog(network, address)
	if err != nil {
		return nil, nil, err
	}
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.TimeKey = "time"
	core := &syslogCore{LevelEnabler: level, enc: zapcore.NewJSONEncoder(cfg), w: w}
	tee := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) }))
	return tee, w.close, nil
}

// syslogCore encodes entries as JSON and hands each to the writer with its
// level, which the RFC 5424 header needs.
type syslogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	w   *syslogWriter
}

func (c *syslogCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &syslogCore{LevelEnabler: c.LevelEnabler, enc: enc, w: c.w}
}

func (c *syslogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *syslogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	defer buf.Free()
	msg := strings.TrimSuffix(buf.String(), "\n")
	return c.w.write(header(e, c.w.hostname, c.w.pid) + msg)
}

func (c *syslogCore) Sync() error { return nil }

// header returns the RFC 5424 header, up to and including the space before
// MSG: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID -
func header(e zapcore.Entry, hostname, pid string) string {
	return fmt.Sprintf("<%d>1 %s %s %s %s %s - ",
		facilityMail*8+severity(e.Level),
		e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
		hostname, appName, pid, msgID(e.Message))
}

// severity maps a zap level to RFC 5424 section 6.2.1's severities.
func severity(l zapcore.Level) int {
	switch {
	case l <= zapcore.DebugLevel:
		return 7
	case l == zapcore.InfoLevel:
		return 6
	case l == zapcore.WarnLevel:
		return 4
	case l == zapcore.ErrorLevel:
		return 3
	}
	return 2 // DPanic, Panic, Fatal: critical
}

// msgID uses the log message as MSGID (so "session" lines can be filtered
// on it) when it fits the field: 1 to 32 printable ASCII characters.
func msgID(m string) string {
	return headerToken(m, 32)
}

// headerToken returns s if it is 1 to max printable US-ASCII characters
// without spaces, else "-" (the nil value of a header field).
func headerToken(s string, max int) string {
	if s == "" || len(s) > max {
		return "-"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return "-"
		}
	}
	return s
}

var errSyslogClosed = errors.New("logging: syslog writer closed")

// syslogWriter sends datagrams, redialling once if a send fails (the
// syslog daemon behind /dev/log was restarted, say).
type syslogWriter struct {
	network, address string
	hostname, pid    string

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

func dialSyslog(network, address string) (*syslogWriter, error) {
	if network != "udp" && network != "unixgram" {
		return nil, fmt.Errorf("logging: syslog network %q is not udp or unixgram", network)
	}
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	w := &syslogWriter{network: network, address: address,
		hostname: headerToken(host, 255), pid: strconv.Itoa(os.Getpid())}
	if w.conn, err = w.dial(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *syslogWriter) dial() (net.Conn, error) {
	c, err := net.DialTimeout(w.network, w.address, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("logging: syslog at %s %s: %w", w.network, w.address, err)
	}
	return c, nil
}

func (w *syslogWriter) write(datagram string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errSyslogClosed
	}
	if w.conn != nil {
		if _, err := w.conn.Write([]byte(datagram)); err == nil {
			return nil
		}
		w.conn.Close()
		w.conn = nil
	}
	c, err := w.dial()
	if err != nil {
		return err
	}
	w.conn = c
	_, err = c.Write([]byte(datagram))
	return err
}

func (w *syslogWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}
