package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/pop3"
)

// BenchmarkOpenDovecot measures a login (Open and the QUIT that ends the
// session) against a real Dovecot, with and without the pool of greeted
// connections, in plain text, with STLS and over implicit TLS. p50-ms is
// the median time of Open alone, which is what a client waits for.
func BenchmarkOpenDovecot(b *testing.B) {
	cr := pop3.Credentials{Mechanism: pop3.MechUser, User: "alice", Password: "s3cret-pw"}
	files := testpeer.NewTLSFiles(b)
	srv := testpeer.StartDovecot(b, testpeer.DovecotOptions{TLS: &files,
		Users: []testpeer.User{{Name: cr.User, Password: cr.Password, Mbox: testpeer.SimpleMbox(3)}},
		// Login and mail processes kept running, as a busy server has them.
		Extra: "service pop3-login {\n  service_count = 0\n  process_min_avail = 2\n}\n" +
			"service pop3 {\n  service_count = 0\n  process_min_avail = 2\n}\n"})
	ctx := context.Background()
	for _, mode := range []string{"plain", "stls", "pop3s"} {
		for _, size := range []int{0, DefaultPoolSize} {
			b.Run(fmt.Sprintf("%s/pool=%d", mode, size), func(b *testing.B) {
				o := poolOptions(srv.Addr, size, time.Minute)
				switch mode {
				case "stls":
					o.STLS, o.TLSConfig = true, &tls.Config{InsecureSkipVerify: true}
				case "pop3s":
					o.Addr, o.TLS, o.TLSConfig = srv.TLSAddr, true, &tls.Config{InsecureSkipVerify: true}
				}
				be := New(o)
				defer be.Close()
				opens := make([]time.Duration, 0, b.N)
				for b.Loop() {
					start := time.Now()
					m, err := be.Open(ctx, cr)
					if err != nil {
						b.Fatal(err)
					}
					opens = append(opens, time.Since(start))
					if _, err := m.Update(ctx); err != nil {
						b.Fatal(err)
					}
				}
				slices.Sort(opens)
				b.ReportMetric(float64(opens[len(opens)/2].Microseconds())/1000, "p50-ms")
			})
		}
	}
}
