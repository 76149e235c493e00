package app

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestPausedListenerLeavesConnectionsQueued pauses one of two listeners on
// the same socket (an old and a new process under socket activation): a
// connection made after the pause is accepted by the other one, and the
// paused one returns only when closed.
func TestPausedListenerLeavesConnectionsQueued(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	successor, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer successor.Close()

	var last atomic.Int64
	old := newDrainListener(&sharedListener{l.(*net.TCPListener)}, &last)
	accepted := make(chan error, 1)
	go func() {
		c, err := old.Accept() // blocked in the kernel when pause comes
		if err == nil {
			c.Close()
			err = errors.New("the paused listener accepted a connection")
		}
		accepted <- err
	}()
	time.Sleep(20 * time.Millisecond)
	old.pause()

	client, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	successor.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := successor.Accept()
	if err != nil {
		t.Fatalf("the successor did not get the connection: %v", err)
	}
	c.Close()

	select {
	case err := <-accepted:
		t.Fatalf("paused Accept returned before Close: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	old.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("paused Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("paused Accept did not return after Close")
	}
	if last.Load() != 0 {
		t.Error("a paused listener recorded an accept")
	}
}

// TestOwnListenerKeepsAccepting: pausing a socket that only this process
// holds would leave connections in its queue to be reset at close, so it
// goes on accepting until closed.
func TestOwnListenerKeepsAccepting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64
	own := newDrainListener(l, &last)
	defer own.Close()
	own.pause()
	client, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := own.Accept()
	if err != nil {
		t.Fatalf("paused own listener: %v", err)
	}
	c.Close()
	if last.Load() == 0 {
		t.Error("the accept was not recorded")
	}
}
