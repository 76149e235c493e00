package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/popgate/popgate/pop3"
)

// Credential is one user the load logs in as.
type Credential struct{ User, Password string }

// Options describe one load run. A run ends when Duration has passed or
// Sessions sessions have finished, whichever comes first; at least one of
// them must be set, so that a run always stops by itself.
type Options struct {
	Addr      string
	TLS       bool        // implicit TLS
	TLSConfig *tls.Config // nil: no certificate verification (benchmarks use test certificates)
	// QuickAck acknowledges every segment at once (TCP_QUICKACK, re-armed
	// after each read, Linux only) instead of delaying ACKs as clients
	// usually do: a server that writes replies in pieces with Nagle on
	// does not stall on such a client.
	QuickAck bool
	// TLSResume makes clients resume TLS sessions from one shared cache,
	// as a mail client that polls again does; otherwise every session makes
	// a full handshake.
	TLSResume   bool
	Users       []Credential
	Clients     int           // concurrent clients, default 1
	Duration    time.Duration // wall-clock bound
	Sessions    int           // total sessions bound
	Script      []Step
	Timeout     time.Duration // per dial and per response, default 30s
	IdleRefresh time.Duration // NOOP interval of IDLE sessions, default 60s
	// Holding, if set, is called once, as soon as every client holds an
	// authenticated IDLE session at the same time: the moment to measure
	// what idle sessions cost a server.
	Holding func()
}

// Run executes the load and returns its report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Addr == "" || len(o.Users) == 0 {
		return nil, errors.New("loadgen: an address and at least one user are required")
	}
	if o.Duration <= 0 && o.Sessions <= 0 {
		return nil, errors.New("loadgen: set a duration or a session count")
	}
	if o.Clients <= 0 {
		o.Clients = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.IdleRefresh <= 0 {
		o.IdleRefresh = time.Minute
	}
	if o.TLS && o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if o.TLS && o.TLSResume && o.TLSConfig.ClientSessionCache == nil {
		o.TLSConfig = o.TLSConfig.Clone()
		o.TLSConfig.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var (
		mu      sync.Mutex
		started int
		wg      sync.WaitGroup
	)
	// take reserves one session of the Sessions budget.
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if o.Sessions > 0 && started >= o.Sessions {
			return false
		}
		started++
		return true
	}
	results := make([]*worker, o.Clients)
	held := &holdCounter{want: o.Clients, fn: o.Holding}
	begin := time.Now()
	for i := range o.Clients {
		w := &worker{o: &o, id: i, errors: map[string]int{}, samples: map[string]string{}, held: held}
		results[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !over(ctx) && take() {
				w.session(ctx)
			}
		}()
	}
	wg.Wait()
	return newReport(&o, results, time.Since(begin)), nil
}

type worker struct {
	o        *Options
	id       int
	n        int // sessions run
	ok       int
	sessions []time.Duration
	logins   []time.Duration
	bytes    int64
	msgs     int
	resumed  int // TLS handshakes that resumed a session
	errors   map[string]int
	samples  map[string]string // the first error of each kind
	cut      int               // sessions cut short by the end of the run
	held     *holdCounter
}

// holdCounter calls fn once when want clients hold an IDLE session.
type holdCounter struct {
	mu   sync.Mutex
	n    int
	want int
	fn   func()
}

func (h *holdCounter) add(d int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n += d
	if h.n == h.want && h.fn != nil {
		h.fn()
		h.fn = nil
	}
}

// fail counts one failed session by kind; a session the end of the run cut
// short is not a failure and is counted apart.
func (w *worker) fail(kind string, err error) {
	if kind == kindCancelled {
		w.cut++
		return
	}
	if w.errors[kind] == 0 {
		w.samples[kind] = err.Error()
	}
	w.errors[kind]++
}

func (w *worker) session(ctx context.Context) {
	o := w.o
	cred := o.Users[(w.id+w.n*o.Clients)%len(o.Users)]
	w.n++
	start := time.Now()
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		if !over(ctx) {
			w.fail(dialKind(err), err)
		}
		return
	}
	if o.QuickAck {
		qc, err := quickAck(conn)
		if err != nil {
			conn.Close()
			w.fail("quickack", err)
			return
		}
		conn = qc
	}
	if o.TLS {
		tc := tls.Client(conn, o.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			w.fail("tls", err)
			return
		}
		if tc.ConnectionState().DidResume {
			w.resumed++
		}
		conn = tc
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c := &client{conn: conn, r: pop3.NewReader(conn), w: pop3.NewWriter(conn), timeout: o.Timeout}
	if _, err := c.status(); err != nil {
		w.fail(kindOf(ctx, err, "greeting"), err)
		return
	}
	if _, err := c.cmd("USER " + cred.User); err != nil {
		w.fail(kindOf(ctx, err, "auth"), err)
		return
	}
	if _, err := c.cmd("PASS " + cred.Password); err != nil {
		w.fail(kindOf(ctx, err, "auth"), err)
		return
	}
	login := time.Since(start)
	held, err := w.script(ctx, c)
	if err != nil {
		w.fail(kindOf(ctx, err, "command"), err)
		return
	}
	// An idle session that lasted to the end of the run counts as ok; the
	// connection closes without QUIT, and its length says nothing.
	if !held {
		if _, err := c.cmd("QUIT"); err != nil {
			w.fail(kindOf(ctx, err, "quit"), err)
			return
		}
		w.sessions = append(w.sessions, time.Since(start))
	}
	w.ok++
	w.logins = append(w.logins, login)
}

// script runs the steps. held is true when an IDLE step lasted until the
// end of the run.
func (w *worker) script(ctx context.Context, c *client) (held bool, err error) {
	count := -1
	stat := func() (int, error) {
		if count >= 0 {
			return count, nil
		}
		text, err := c.cmd("STAT")
		if err != nil {
			return 0, err
		}
		f := strings.Fields(text)
		if len(f) < 1 {
			return 0, fmt.Errorf("%w: STAT %q", errProtocol, text)
		}
		if count, err = strconv.Atoi(f[0]); err != nil {
			return 0, fmt.Errorf("%w: STAT %q", errProtocol, text)
		}
		return count, nil
	}
	for _, st := range w.o.Script {
		switch st.Op {
		case "STAT":
			count = -1
			if _, err := stat(); err != nil {
				return false, err
			}
		case "NOOP":
			if _, err := c.cmd("NOOP"); err != nil {
				return false, err
			}
		case "LIST", "UIDL":
			if _, err := c.cmd(st.Op); err != nil {
				return false, err
			}
			if _, err := c.block(); err != nil {
				return false, err
			}
		case "RETR", "TOP", "DELE":
			n, err := stat()
			if err != nil {
				return false, err
			}
			if st.Count > 0 && st.Count < n {
				n = st.Count
			}
			for i := 1; i <= n; i++ {
				line := st.Op + " " + strconv.Itoa(i)
				if st.Op == "TOP" {
					line += " " + strconv.Itoa(st.Lines)
				}
				if _, err := c.cmd(line); err != nil {
					return false, err
				}
				if st.Op == "DELE" {
					continue
				}
				size, err := c.block()
				if err != nil {
					return false, err
				}
				w.bytes += size
				w.msgs++
			}
		case "IDLE":
			t := time.NewTicker(w.o.IdleRefresh)
			defer t.Stop()
			w.held.add(1)
			defer w.held.add(-1)
			for {
				select {
				case <-ctx.Done():
					// The run is over: the session counts as held.
					return true, nil
				case <-t.C:
					if _, err := c.cmd("NOOP"); err != nil {
						return false, err
					}
				}
			}
		}
	}
	return false, nil
}

var (
	errProtocol = errors.New("protocol error")
	errNegative = errors.New("server said -ERR")
)

const kindCancelled = "cancelled"

// over reports whether the run is over. It checks the deadline itself:
// ctx.Err() turns non-nil only when the context's timer has run, and on a
// busy machine that can be milliseconds after the deadline, while every
// dial already fails at once with a timeout. Counted as failures, those
// would be thousands of spurious errors at the end of each run.
func over(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// dialKind names a dial failure by its cause, such as "dial: connection
// refused" or "dial: cannot assign requested address" (the ephemeral ports
// are used up), so that a report says which limit a run ran into.
func dialKind(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return "dial: " + errno.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "dial: timeout"
	}
	return "dial"
}

// kindOf classifies a session failure for the report.
func kindOf(ctx context.Context, err error, step string) string {
	var ne net.Error
	switch {
	case over(ctx):
		return kindCancelled
	case errors.Is(err, errNegative):
		return step + "_refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, errProtocol), errors.Is(err, pop3.ErrBadResponse), errors.Is(err, pop3.ErrLineTooLong):
		return "protocol"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, pop3.ErrUnexpectedEOF), errors.Is(err, os.ErrDeadlineExceeded):
		return "closed"
	}
	return step
}

type client struct {
	conn    net.Conn
	r       *pop3.Reader
	w       *pop3.Writer
	timeout time.Duration
}

func (c *client) status() (string, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	resp, err := c.r.ReadResponse()
	if err != nil {
		return "", err
	}
	if !resp.OK {
		return "", fmt.Errorf("%w: %s", errNegative, resp.Text)
	}
	return resp.Text, nil
}

func (c *client) cmd(line string) (string, error) {
	c.w.Line(line)
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	return c.status()
}

// block reads and discards a multi-line reply and returns its unstuffed size.
func (c *client) block() (int64, error) {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	return io.Copy(io.Discard, c.r.DotReader())
}
