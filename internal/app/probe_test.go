package app

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// probe is one POP3 session run by probeLoad: the answer to PASS and, when
// that was +OK, the UIDL listing.
type probe struct {
	start, end time.Time
	pass       string
	uidls      []string
	err        error
}

// probeSession logs in as user, lists the UIDLs and quits. It reports
// rather than fails the test, so that load goroutines can call it.
func probeSession(addr, user, pass string) (p probe) {
	p.start = time.Now()
	defer func() { p.end = time.Now() }()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		p.err = err
		return p
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	line := func() string {
		s, err := r.ReadString('\n')
		if err != nil && p.err == nil {
			p.err = err
		}
		return strings.TrimRight(s, "\r\n")
	}
	say := func(cmd string) string {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		return line()
	}
	line()
	say("USER " + user)
	if p.pass = say("PASS " + pass); !strings.HasPrefix(p.pass, "+OK") {
		return p
	}
	if answer := say("UIDL"); !strings.HasPrefix(answer, "+OK") {
		p.err = fmt.Errorf("UIDL: %q", answer)
		return p
	}
	for p.err == nil {
		l := line()
		if l == "." {
			break
		}
		if _, uidl, ok := strings.Cut(l, " "); ok {
			p.uidls = append(p.uidls, uidl)
		}
	}
	if answer := say("QUIT"); !strings.HasPrefix(answer, "+OK") && p.err == nil {
		p.err = fmt.Errorf("QUIT: %q", answer)
	}
	return p
}

// probeLoad runs clients loops of probeSession against addr until stop is
// called, which returns every session run.
func probeLoad(addr, user, pass string, clients int) (stop func() []probe) {
	var (
		mu     sync.Mutex
		probes []probe
		wg     sync.WaitGroup
	)
	done := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				p := probeSession(addr, user, pass)
				mu.Lock()
				probes = append(probes, p)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return func() []probe {
		close(done)
		wg.Wait()
		return probes
	}
}
