// Command stubpop3 is a POP3 server that accepts any login to an empty
// maildrop and keeps sessions cheap. The idle-session benchmark puts it
// behind each proxy, so that 10,000 sessions cost the backend little and the
// memory measured is the proxy's own (Dovecot would need a process per
// session).
//
//	stubpop3 -listen 127.0.0.1:11111
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/popgate/popgate/internal/pop3test"
)

// script answers each command of a session that has an empty maildrop.
var script = &pop3test.Script{
	Greeting: pop3test.Lines("+OK stub ready"),
	Replies: map[string]pop3test.Reply{
		"CAPA": pop3test.Lines("+OK", "USER", "UIDL", "TOP", "."),
		"USER": pop3test.Lines("+OK"),
		"PASS": pop3test.Lines("+OK 0 messages"),
		"STAT": pop3test.Lines("+OK 0 0"),
		"LIST": pop3test.Lines("+OK 0 messages", "."),
		"UIDL": pop3test.Lines("+OK", "."),
		"NOOP": pop3test.Lines("+OK"),
		"RSET": pop3test.Lines("+OK"),
		"QUIT": {Text: "+OK bye\r\n", Close: true},
	},
	Unknown: pop3test.Lines("-ERR not supported"),
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve POP3 on")
	flag.Parse()
	srv, err := pop3test.Listen(*listen, script.Serve)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stubpop3:", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr)
	if err := srv.Serve(); err != nil {
		fmt.Fprintln(os.Stderr, "stubpop3:", err)
		os.Exit(1)
	}
}
