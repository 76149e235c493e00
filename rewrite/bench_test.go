package rewrite

import (
	"context"
	"fmt"
	"testing"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/internal/testpeer"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/bolt"
	"github.com/popgate/popgate/store/memstore"
	redisstore "github.com/popgate/popgate/store/redis"
)

const benchMessages = 10000

// benchMaildrop is a moved user's 10,000-message maildrop, with the legacy
// entries recorded for it in st.
func benchMaildrop(b *testing.B, st store.UIDLStore) *pop3test.Mailbox {
	b.Helper()
	m := &pop3test.Mailbox{}
	entries := make([]store.Entry, benchMessages)
	for i := range benchMessages {
		msg := []byte(crlf(fmt.Sprintf("Received: from a by b; Mon, 5 Jan 2004 10:00:00 +0000\n"+
			"Date: Mon, 5 Jan 2004 10:00:00 +0000\nFrom: s@example.org\nTo: u@example.net\n"+
			"Subject: message %d\nMessage-ID: <m%d@example.org>\n\nbody of message %d\n", i, i, i)))
		m.Messages = append(m.Messages, msg)
		m.UIDs = append(m.UIDs, fmt.Sprintf("new-%d", i))
		entries[i] = store.Entry{UIDL: fmt.Sprintf("legacy-%d", i), Fingerprint: FingerprintBytes(msg), Seq: i + 1}
	}
	if err := st.SetLegacy(context.Background(), "u", entries); err != nil {
		b.Fatal(err)
	}
	return m
}

// benchStores are the stores compared: bbolt, Redis (a private
// redis-server on loopback) and memory.
func benchStores(b *testing.B) map[string]store.UIDLStore {
	st, err := bolt.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	rs, err := redisstore.Open(context.Background(), testpeer.StartRedis(b).URL(0), "bench:")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rs.Close() })
	return map[string]store.UIDLStore{"bolt": st, "redis": rs, "mem": memstore.New()}
}

// BenchmarkUIDLPlain is the baseline: the backend's own UIDL listing.
func BenchmarkUIDLPlain(b *testing.B) {
	m := benchMaildrop(b, memstore.New())
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Uidl(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBackends numbers backend names across runs (-count) that share a store.
var benchBackends int

// BenchmarkUIDLMapFirstSession is a moved user's first UIDL: every
// message's headers are read and matched, and the pairs stored.
func BenchmarkUIDLMapFirstSession(b *testing.B) {
	for name, st := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchMaildrop(b, st)
			ctx := context.Background()
			for b.Loop() {
				benchBackends++ // a backend name never seen: no cached pairs
				list, err := Map(m, "u", fmt.Sprint("native", benchBackends), Options{Store: st}).Uidl(ctx, 0)
				if err != nil || list[0].UID != "legacy-0" {
					b.Fatalf("Uidl = %v..., %v", list[:1], err)
				}
			}
		})
	}
}

// BenchmarkUIDLMapLaterSession is every later session: cached pairs only.
func BenchmarkUIDLMapLaterSession(b *testing.B) {
	for name, st := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchMaildrop(b, st)
			ctx := context.Background()
			if _, err := Map(m, "u", "native", Options{Store: st}).Uidl(ctx, 0); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				list, err := Map(m, "u", "native", Options{Store: st}).Uidl(ctx, 0)
				if err != nil || list[benchMessages-1].UID != fmt.Sprint("legacy-", benchMessages-1) {
					b.Fatalf("Uidl = %v, %v", list[len(list)-1:], err)
				}
			}
		})
	}
}
