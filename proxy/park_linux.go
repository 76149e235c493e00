package proxy

import (
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// parker holds logged-in sessions whose clients are silent without a
// goroutine each: a waiting goroutine keeps a stack of at least 4 KiB, a
// third of what an idle session cost before. A parked session's socket is
// in an epoll set of its own (level-triggered, one-shot), which the parker
// reads through the runtime's poller; when the client sends something,
// hangs up, the idle timeout comes or the server aborts the session, the
// session is taken out and a new goroutine carries on where the old one
// stopped.
type parker struct {
	epfd int
	file *os.File      // the epoll set, closed by close
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	next    uint32
	parked  map[uint32]*parkedSession
	sinceGC int         // sessions parked since the last freeMemory
	collect *time.Timer // runs freeMemory; nil until first needed
	due     bool        // freeMemory is due, not to be put off by more parks
	freed   time.Time   // when freeMemory last ran
}

// When the parker frees memory (see freeMemory): after parking stops for
// collectQuiet, once collectAfterParks sessions have parked since the
// last time, and during a long burst of parks collectQuiet after the
// collectMaxParks-th one, but not within collectMinGap of the last time:
// a server that parks sessions all day is allocating too, the runtime
// collects by itself, and a forced full collection every second or two
// would cost more than it frees.
const (
	collectAfterParks = 64
	collectMaxParks   = 1024
	collectQuiet      = 500 * time.Millisecond
	collectMinGap     = 10 * time.Second
)

type parkedSession struct {
	s     *clientSession
	rc    syscall.RawConn
	timer *time.Timer // resumes the session at its idle deadline
}

// newParker returns a parker, or nil if the system refuses one (sessions
// then wait on their goroutines).
func newParker() *parker {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil
	}
	// A non-blocking descriptor handed to os.NewFile is waited on by the
	// runtime's poller: an epoll set is readable while it has events.
	f := os.NewFile(uintptr(fd), "session-parker")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	p := &parker{epfd: fd, file: f, done: make(chan struct{}), parked: map[uint32]*parkedSession{}}
	go p.run(rc)
	return p
}

// close stops the parker once no session is parked any more.
func (p *parker) close() {
	p.mu.Lock()
	if p.collect != nil {
		p.collect.Stop()
	}
	p.mu.Unlock()
	p.file.Close()
	<-p.done
}

// run hands every event to wake until the parker is closed.
func (p *parker) run(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, err := syscall.EpollWait(int(fd), events, 0)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					return true
				}
				for _, ev := range events[:n] {
					p.wake(uint32(ev.Fd))
				}
				if n < len(events) {
					return false // drained: wait for the next event
				}
			}
		})
		if err != nil {
			return
		}
	}
}

// park takes s off its goroutine until its client sends something or its
// idle deadline (s.idleUntil, already set on the connection) passes, and
// reports whether it did. After true, the caller must not touch s again:
// another goroutine may already be running it.
func (p *parker) park(s *clientSession) bool {
	sc, ok := s.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	for p.next == 0 || p.parked[p.next] != nil {
		p.next++
	}
	tok := p.next
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(tok)}
	var added error
	// Control holds the descriptor open, so its number cannot be reused by
	// another connection in between.
	if err := rc.Control(func(fd uintptr) {
		added = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil || added != nil {
		return false
	}
	s.parkToken = tok
	s.resumed = true
	ps := &parkedSession{s: s, rc: rc}
	ps.timer = time.AfterFunc(time.Until(s.idleUntil), func() { p.wake(tok) })
	p.parked[tok] = ps
	p.scheduleCollect()
	return true
}

// scheduleCollect counts one park and plans the next collect. The caller
// holds p.mu.
func (p *parker) scheduleCollect() {
	p.sinceGC++
	switch {
	case p.due || p.sinceGC < collectAfterParks:
	case p.collect == nil:
		p.collect = time.AfterFunc(collectQuiet, p.freeMemory)
	default:
		p.collect.Reset(collectQuiet)
	}
	if p.sinceGC >= collectMaxParks && time.Since(p.freed) >= collectMinGap {
		p.due = true
	}
}

// freeMemory runs a garbage collection and returns the memory it freed to
// the system. The stacks of the goroutines that parked sessions left are
// only freed by a collection, and a server whose sessions have all gone
// quiet allocates nothing that would start one, nor gives back the heap
// that a burst of logins left idle: the memory could stay with the process
// for minutes. It runs at most once per collectAfterParks parks, and a
// server whose clients never go quiet for ParkIdleAfter never runs it.
func (p *parker) freeMemory() {
	p.mu.Lock()
	p.sinceGC, p.due, p.freed = 0, false, time.Now()
	p.mu.Unlock()
	debug.FreeOSMemory()
}

// wake resumes the session parked under tok, if it still is.
func (p *parker) wake(tok uint32) {
	p.mu.Lock()
	ps := p.parked[tok]
	p.resumeLocked(tok, ps)
}

// wakeSession resumes s if it is parked; abort uses it.
func (p *parker) wakeSession(s *clientSession) {
	p.mu.Lock()
	tok := s.parkToken
	p.resumeLocked(tok, p.parked[tok])
}

// resumeLocked forgets ps (if not nil) and starts a goroutine to carry on
// its session. It is called with p.mu held and releases it.
func (p *parker) resumeLocked(tok uint32, ps *parkedSession) {
	if ps == nil {
		p.mu.Unlock()
		return
	}
	delete(p.parked, tok)
	ps.s.parkToken = 0
	ps.timer.Stop()
	// A connection closed meanwhile has left the set by itself.
	ps.rc.Control(func(fd uintptr) {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	p.mu.Unlock()
	go ps.s.resume()
}

// parkedCount reports how many sessions are parked.
func (p *parker) parkedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
