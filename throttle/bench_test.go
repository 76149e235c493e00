package throttle

import (
	"context"
	"net"
	"strconv"
	"testing"
)

// BenchmarkAdmit is the hot path of a well-behaved login: Admit, Opened,
// Release, on a backend with a session limit, from many goroutines.
func BenchmarkAdmit(b *testing.B) {
	cfg := DefaultConfig()
	th, err := New(cfg, Options{MaxSessions: map[string]int{"legacy": 64}})
	if err != nil {
		b.Fatal(err)
	}
	users := make([]string, 4096)
	for i := range users {
		users[i] = "user" + strconv.Itoa(i)
	}
	client := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tk, err := th.AdmitUser(ctx, users[i%len(users)], "legacy", client)
			if err != nil {
				b.Fatal(err)
			}
			tk.Opened(100, 5<<20)
			tk.Release()
			i++
		}
	})
}
