// Command relayproto is a byte-for-byte TCP relay built three ways, to
// measure what the relay core alone costs in Go before any POP3 work is
// done on top of it: a goroutine per direction copying with splice(2)
// (what io.Copy does between two TCP connections on Linux), the same with
// a plain read/write loop, and one event loop per core (gnet) that waits
// for readiness before it reads and keeps both sockets of a session on the
// same loop. bench/run.sh runs each as a target beside HAProxy and popgate.
//
//	relayproto -listen 127.0.0.1:11000 -backend 127.0.0.1:110 -mode gnet
//
// It understands nothing of POP3; it is a yardstick, not a proxy to deploy.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:11000", "address to listen on (loopback)")
	backend := flag.String("backend", "", "address of the POP3 server to relay to")
	mode := flag.String("mode", "gnet", "splice, copy or gnet")
	loops := flag.Int("loops", runtime.NumCPU(), "event loops (gnet)")
	flag.Parse()
	if *backend == "" {
		fmt.Fprintln(os.Stderr, "relayproto: -backend is required")
		os.Exit(2)
	}
	var err error
	switch *mode {
	case "splice", "copy":
		err = serveGoroutines(*listen, *backend, *mode == "copy")
	case "gnet":
		err = serveLoop(*listen, *backend, *loops)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		log.Fatalf("relayproto: %v", err)
	}
}

// serveGoroutines relays every session with two goroutines.
func serveGoroutines(listen, backend string, plain bool) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", backend)
			if err != nil {
				return
			}
			defer u.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				pipe(u, c, plain)
				u.(*net.TCPConn).CloseWrite()
			}()
			pipe(c, u, plain)
			c.(*net.TCPConn).CloseWrite()
			wg.Wait()
		}()
	}
}

// onlyReader hides the ReaderFrom and WriterTo of a connection, so that
// io.Copy falls back to its read/write loop instead of splice(2).
type onlyReader struct{ io.Reader }

type onlyWriter struct{ io.Writer }

func pipe(dst, src net.Conn, plain bool) {
	if plain {
		buf := make([]byte, 32<<10)
		io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, buf)
		return
	}
	io.Copy(dst, src)
}

// relay is the event-loop relay: a client connection accepted by gnet and
// its backend connection registered on the same loop, each holding the
// other as its context.
type relay struct {
	gnet.BuiltinEventEngine
	listen  string
	backend net.Addr
}

// pending is a connection's context: its peer, and on the client side
// what arrived before the backend connection was up.
type pending struct {
	peer   gnet.Conn
	buf    []byte
	closed bool // the client went away before its backend connection was up
}

func serveLoop(listen, backend string, loops int) error {
	addr, err := net.ResolveTCPAddr("tcp", backend)
	if err != nil {
		return err
	}
	r := &relay{listen: listen, backend: addr}
	return gnet.Run(r, "tcp://"+listen, gnet.WithNumEventLoop(loops), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true))
}

func (r *relay) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if from, ok := c.Context().(*pending); ok { // the backend side, now connected
		client := from.peer
		st, ok := client.Context().(*pending)
		if !ok || st.closed {
			return nil, gnet.Close
		}
		c.SetContext(&pending{peer: client})
		if len(st.buf) > 0 {
			c.Write(st.buf)
		}
		st.peer, st.buf = c, nil
		return nil, gnet.None
	}
	st := &pending{}
	c.SetContext(st)
	ctx := gnet.NewContext(context.Background(), &pending{peer: c})
	if _, err := c.EventLoop().Register(ctx, r.backend); err != nil {
		return nil, gnet.Close
	}
	return nil, gnet.None
}

func (r *relay) OnTraffic(c gnet.Conn) gnet.Action {
	st, _ := c.Context().(*pending)
	if st == nil {
		return gnet.Close
	}
	data, err := c.Next(-1)
	if err != nil {
		return gnet.Close
	}
	if st.peer == nil {
		st.buf = append(st.buf, data...)
		return gnet.None
	}
	if _, err := st.peer.Write(data); err != nil {
		return gnet.Close
	}
	return gnet.None
}

func (r *relay) OnClose(c gnet.Conn, _ error) gnet.Action {
	st, ok := c.Context().(*pending)
	if !ok {
		return gnet.None
	}
	st.closed = true
	if peer := st.peer; peer != nil {
		st.peer = nil
		if ps, ok := peer.Context().(*pending); ok {
			ps.peer = nil
		}
		_ = c.EventLoop().Close(peer) // both ends live on this loop
	}
	return gnet.None
}
