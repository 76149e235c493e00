package loadgen

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report summarises a run. Durations are in milliseconds.
type Report struct {
	Addr        string         `json:"addr"`
	Clients     int            `json:"clients"`
	Seconds     float64        `json:"seconds"`
	Sessions    int            `json:"sessions"`
	OK          int            `json:"ok"`
	Failed      int            `json:"failed"`
	CutShort    int            `json:"cut_short"`   // ended by the end of the run: neither ok nor failed
	TLSResumed  int            `json:"tls_resumed"` // sessions whose TLS handshake resumed an earlier one
	PerSecond   float64        `json:"sessions_per_second"`
	Session     Percentiles    `json:"session_ms"`
	Login       Percentiles    `json:"login_ms"`
	Messages    int            `json:"messages_retrieved"`
	Bytes       int64          `json:"bytes_retrieved"`
	MBPerSecond float64        `json:"mb_per_second"`
	Errors      map[string]int `json:"errors"`
	// ErrorSamples holds one error message of each kind, to tell why.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func newReport(o *Options, ws []*worker, elapsed time.Duration) *Report {
	r := &Report{Addr: o.Addr, Clients: o.Clients, Seconds: elapsed.Seconds(), Errors: map[string]int{}, ErrorSamples: map[string]string{}}
	var sessions, logins []time.Duration
	for _, w := range ws {
		r.Sessions += w.n
		r.OK += w.ok
		r.CutShort += w.cut
		r.TLSResumed += w.resumed
		r.Messages += w.msgs
		r.Bytes += w.bytes
		sessions = append(sessions, w.sessions...)
		logins = append(logins, w.logins...)
		for k, v := range w.errors {
			r.Errors[k] += v
			r.Failed += v
			if _, ok := r.ErrorSamples[k]; !ok {
				r.ErrorSamples[k] = w.samples[k]
			}
		}
	}
	// Sessions cut short by the end of the run are neither ok nor failed.
	if r.Seconds > 0 {
		r.PerSecond = float64(r.OK) / r.Seconds
		r.MBPerSecond = float64(r.Bytes) / 1e6 / r.Seconds
	}
	r.Session = percentiles(sessions)
	r.Login = percentiles(logins)
	return r
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d)) + 0.5)
		i = min(max(i-1, 0), len(d)-1)
		return float64(d[i].Microseconds()) / 1000
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(d[len(d)-1].Microseconds()) / 1000}
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target      %s, %d clients, %.1fs\n", r.Addr, r.Clients, r.Seconds)
	fmt.Fprintf(&b, "sessions    %d ok, %d failed, %d cut short, %.1f/s\n", r.OK, r.Failed, r.CutShort, r.PerSecond)
	fmt.Fprintf(&b, "session ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", r.Session.P50, r.Session.P90, r.Session.P99, r.Session.Max)
	fmt.Fprintf(&b, "login ms    p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", r.Login.P50, r.Login.P90, r.Login.P99, r.Login.Max)
	fmt.Fprintf(&b, "retrieved   %d messages, %d bytes, %.2f MB/s\n", r.Messages, r.Bytes, r.MBPerSecond)
	if o := r.TLSResumed; o > 0 {
		fmt.Fprintf(&b, "tls         %d handshakes resumed a session\n", o)
	}
	if len(r.Errors) > 0 {
		kinds := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		b.WriteString("errors     ")
		for _, k := range kinds {
			fmt.Fprintf(&b, " %s=%d", k, r.Errors[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
