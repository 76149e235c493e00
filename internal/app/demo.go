package app

import (
	"fmt"
	"io"

	"github.com/popgate/popgate/backend/demo"
	"github.com/popgate/popgate/config"
)

// seedDemo fills a missing or empty data directory with the demo user when
// popgate serves the embedded default. It returns nil when there is nothing
// to seed.
func seedDemo(cfg config.Config) (*demo.Info, error) {
	if !cfg.UsesEmbeddedDefault() {
		return nil, nil
	}
	info, err := demo.Seed(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// printHint tells a person at a terminal how to try the server.
func printHint(w io.Writer, cfg config.Config, seeded *demo.Info, b Addrs) {
	if seeded != nil && b.Plain != nil {
		fmt.Fprint(w, seeded.HowToConnect(b.Plain.String()))
		return
	}
	if b.Plain != nil {
		fmt.Fprintf(w, "popgate: POP3 on %s; try: curl -u USER:PASSWORD pop3://%s/1\n", b.Plain, b.Plain)
	}
	if b.TLS != nil {
		fmt.Fprintf(w, "popgate: POP3 over TLS on %s; try: curl -k -u USER:PASSWORD pop3s://%s/1\n", b.TLS, b.TLS)
	}
}
