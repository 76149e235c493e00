package proxy

import (
	"crypto/tls"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
)

// TestTranscripts plays every script in testdata/transcripts against a
// server over the fake backend. A script's "#! option" lines configure the
// server: require-tls, tls (STLS offered), apop (the backend supports APOP).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			tr, err := pop3test.LoadTranscript(file)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(file)
			opts := transcriptOptions(string(raw))
			var clientTLS *tls.Config
			env := startServer(t, func(o *Options, _ *pop3test.Mailbox) {
				if opts["tls"] {
					o.TLSConfig, clientTLS = testTLS(t)
				}
				o.RequireTLS = opts["require-tls"]
				fakeOpener(o).APOP = opts["apop"]
				if opts["trust-loopback"] {
					o.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				}
			})
			tr.Run(t, env.dial(t), clientTLS)
			env.sessionLines(t, 1)
		})
	}
}

func transcriptOptions(script string) map[string]bool {
	opts := map[string]bool{}
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(line, "#! "); ok {
			for _, o := range strings.Fields(rest) {
				opts[o] = true
			}
		}
	}
	return opts
}
