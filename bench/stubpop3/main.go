// Command stubpop3 is a POP3 server that accepts any login to an empty
// maildrop and keeps sessions cheap. The idle-session benchmark puts it
// behind each proxy, so that 10,000 sessions cost the backend little and the
// memory measured is the proxy's own (Dovecot would need a process per
// session).
//
//	stubpop3 -listen 127.0.0.1:11111
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve POP3 on")
	flag.Parse()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stubpop3:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "stubpop3:", err)
			os.Exit(1)
		}
		go serve(c)
	}
}

// replies answers each command of a session that has an empty maildrop.
var replies = map[string]string{
	"CAPA": "+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n",
	"USER": "+OK\r\n",
	"PASS": "+OK 0 messages\r\n",
	"STAT": "+OK 0 0\r\n",
	"LIST": "+OK 0 messages\r\n.\r\n",
	"UIDL": "+OK\r\n.\r\n",
	"NOOP": "+OK\r\n",
	"RSET": "+OK\r\n",
	"QUIT": "+OK bye\r\n",
}

func serve(c net.Conn) {
	defer c.Close()
	// A small reader: an idle session should cost the stub little.
	r := bufio.NewReaderSize(c, 512)
	if _, err := c.Write([]byte("+OK stub ready\r\n")); err != nil {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		verb = strings.ToUpper(verb)
		reply, ok := replies[verb]
		if !ok {
			reply = "-ERR not supported\r\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil || verb == "QUIT" {
			return
		}
	}
}
