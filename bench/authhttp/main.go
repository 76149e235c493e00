// Command authhttp is the smallest auth_http responder nginx's mail proxy
// needs for a benchmark: it accepts every login and sends the client to one
// backend, the way a lookup that always hits would.
//
//	authhttp -listen 127.0.0.1:8081 -backend 127.0.0.1:11110
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve auth_http on")
	backend := flag.String("backend", "", "POP3 backend host:port every login goes to")
	flag.Parse()
	host, port, err := net.SplitHostPort(*backend)
	if err != nil {
		fmt.Fprintln(os.Stderr, "authhttp: -backend:", err)
		os.Exit(2)
	}
	http.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Auth-Status", "OK")
		h.Set("Auth-Server", host)
		h.Set("Auth-Port", port)
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "authhttp:", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	fmt.Fprintln(os.Stderr, "authhttp:", http.Serve(l, nil))
	os.Exit(1)
}
