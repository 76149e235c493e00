package writeback

import (
	"errors"
	"testing"
)

func TestReadsSeeABatchWhileItIsWritten(t *testing.T) {
	var b Batch[int]
	b.Set("a", 1)
	err := b.Flush(func(m map[string]int) error {
		if v, ok := b.Get("a"); !ok || v != 1 {
			t.Errorf("during the write Get(a) = %d, %v", v, ok)
		}
		b.Set("b", 2) // a write that comes in meanwhile waits for the next batch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("a"); ok {
		t.Error("a written value is still held")
	}
	var next map[string]int
	b.Flush(func(m map[string]int) error { next = m; return nil })
	if len(next) != 1 || next["b"] != 2 {
		t.Errorf("next batch = %v, want b=2", next)
	}
}

func TestAFailedBatchStaysPendingUnlessSetAgain(t *testing.T) {
	var b Batch[int]
	b.Set("a", 1)
	b.Set("b", 1)
	fail := errors.New("disk full")
	err := b.Flush(func(map[string]int) error {
		b.Set("b", 2)
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Flush = %v", err)
	}
	var retried map[string]int
	b.Flush(func(m map[string]int) error { retried = m; return nil })
	if len(retried) != 2 || retried["a"] != 1 || retried["b"] != 2 {
		t.Errorf("retried batch = %v, want a=1 b=2", retried)
	}
	if err := b.Flush(func(map[string]int) error { t.Error("an empty batch was written"); return nil }); err != nil {
		t.Fatal(err)
	}
}
