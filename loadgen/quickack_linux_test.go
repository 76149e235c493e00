package loadgen

import (
	"net"
	"syscall"
	"testing"
)

// The kernel reports TCP_QUICKACK as cleared once it has switched a
// connection to delayed ACKs; a quickAckConn must have it set again after
// every read.
func TestQuickAckIsRearmedAfterEachRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			c.Write(buf[:n])
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := quickAck(nc)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := nc.(*net.TCPConn).SyscallConn()
	buf := make([]byte, 64)
	for i := range 20 {
		// Sending data makes an exchange look interactive to the kernel,
		// which then leaves quick-ACK mode.
		if _, err := c.Write([]byte("ping\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		var v int
		var gerr error
		raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) })
		if gerr != nil || v != 1 {
			t.Fatalf("exchange %d: TCP_QUICKACK = %d, %v; want 1", i, v, gerr)
		}
	}
}
