package throttle_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/throttle"
)

// A user with 800 MB on the server who polls every minute is delayed and
// shaped (level 7: 16 times the soft size, 5 times too often); after a
// session that deletes the mail, the next poll is at full speed.
func ExampleThrottle_Admit() {
	now := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	var slept time.Duration
	th, err := throttle.New(throttle.DefaultConfig(), throttle.Options{
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil },
	})
	if err != nil {
		panic(err)
	}
	client := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000}
	poll := func(bytes int64, deleteAll bool) {
		slept = 0
		tk, err := th.AdmitUser(context.Background(), "hog", "legacy", client)
		if err != nil {
			panic(err)
		}
		defer tk.Release()
		tk.Authenticated(nil, 1000, bytes)
		if deleteAll {
			// What the session's UPDATE left; tk.Mailbox reports it
			// by itself when the proxy commits the deletions.
			tk.Updated(pop3.UpdateResult{DeletedMsgs: 1000, DeletedBytes: bytes})
		}
		d := tk.Decision()
		fmt.Printf("level %d, slept %s, reason %q, %d B/s, %s\n", d.Level, slept, d.Reason, tk.Bandwidth(), tk.Caps()[0])
	}
	poll(800<<20, false)
	now = now.Add(time.Minute)
	poll(800<<20, false)
	now = now.Add(time.Minute)
	poll(800<<20, true) // the client deletes everything
	now = now.Add(time.Minute)
	poll(0, false)
	// Output:
	// level 0, slept 0s, reason "", 0 B/s, LOGIN-DELAY 0
	// level 7, slept 35s, reason "size+frequency", 37449 B/s, LOGIN-DELAY 300
	// level 7, slept 35s, reason "size+frequency", 37449 B/s, LOGIN-DELAY 300
	// level 0, slept 0s, reason "", 0 B/s, LOGIN-DELAY 0
}
