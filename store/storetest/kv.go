package storetest

import (
	"context"
	"testing"
	"time"
)

// KV is the key-value table the throttle keeps its state in
// (throttle.KV), as the stores provide it.
type KV interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// RunKV checks a KV: values are read back, deleted, expire after their
// ttl, and (through reopen, which returns the KV of the same store opened
// again) outlive the process that wrote them.
func RunKV(t *testing.T, open func(t *testing.T) KV, reopen func(t *testing.T) KV) {
	ctx := context.Background()
	kv := open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(kv.Put(ctx, "keep", []byte("v1"), 0))
	must(kv.Put(ctx, "keep", []byte("v2"), time.Hour))
	must(kv.Put(ctx, "gone", []byte("x"), 0))
	must(kv.Delete(ctx, "gone"))
	must(kv.Put(ctx, "short", []byte("x"), 50*time.Millisecond))
	check := func(kv KV, when string) {
		t.Helper()
		if v, ok, err := kv.Get(ctx, "keep"); err != nil || !ok || string(v) != "v2" {
			t.Errorf("%s: Get(keep) = %q, %v, %v; want v2", when, v, ok, err)
		}
		if v, ok, err := kv.Get(ctx, "gone"); err != nil || ok {
			t.Errorf("%s: Get(gone) = %q, %v, %v; want deleted", when, v, ok, err)
		}
		if v, ok, err := kv.Get(ctx, "never"); err != nil || ok {
			t.Errorf("%s: Get(never) = %q, %v, %v; want nothing", when, v, ok, err)
		}
	}
	check(kv, "written")
	time.Sleep(100 * time.Millisecond)
	if v, ok, err := kv.Get(ctx, "short"); err != nil || ok {
		t.Errorf("Get(short) after its ttl = %q, %v, %v; want expired", v, ok, err)
	}
	check(reopen(t), "reopened")
}
