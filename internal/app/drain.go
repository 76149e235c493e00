package app

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// acceptGrace is how long a drain waits after the last accepted connection
// before the proxy's Shutdown, which closes every session still in the
// AUTHORIZATION state: a client that connected just before the drain
// gets time to log in instead of being cut off.
const acceptGrace = time.Second

// drainListener can stop accepting without closing the socket. With a
// socket shared with a successor (socket activation), connections that
// arrive during the drain stay queued for the successor instead of being
// accepted and then dropped. A socket of this process alone keeps
// accepting until it is closed: what it queued would be reset at close.
type drainListener struct {
	net.Listener
	lastAccept *atomic.Int64 // unix nanoseconds, shared by a server's listeners

	pauseOnce sync.Once
	paused    chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
}

func newDrainListener(l net.Listener, lastAccept *atomic.Int64) *drainListener {
	return &drainListener{Listener: l, lastAccept: lastAccept,
		paused: make(chan struct{}), closed: make(chan struct{})}
}

func (l *drainListener) Accept() (net.Conn, error) {
	for {
		select {
		case <-l.paused:
			<-l.closed
			return nil, net.ErrClosed
		default:
		}
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && l.isPaused() {
				continue // the deadline set by pause woke us
			}
			return nil, err
		}
		l.lastAccept.Store(time.Now().UnixNano())
		return c, nil
	}
}

func (l *drainListener) isPaused() bool {
	select {
	case <-l.paused:
		return true
	default:
		return false
	}
}

// pause stops accepting on a shared socket: an Accept blocked in the
// kernel is woken by a deadline, and later ones wait for Close.
func (l *drainListener) pause() {
	if _, shared := l.Listener.(*sharedListener); !shared {
		return
	}
	l.pauseOnce.Do(func() {
		close(l.paused)
		if d, ok := l.Listener.(interface{ SetDeadline(time.Time) error }); ok {
			_ = d.SetDeadline(time.Now())
		}
	})
}

func (l *drainListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}
