package testcert

import (
	"crypto/tls"
	"testing"
)

func TestHandshake(t *testing.T) {
	c := New(t)
	if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
		t.Fatalf("PEM pair: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	for _, cfg := range []*tls.Config{c.Client(), {RootCAs: c.Pool}} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("handshake with server name %q: %v", cfg.ServerName, err)
		}
		conn.Close()
	}
	if conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{}); err == nil {
		conn.Close()
		t.Error("a client without the pool trusted the certificate")
	}
}
