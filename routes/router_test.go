package routes

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// writeFile replaces the file by rename, so a polling watcher never sees it
// half written.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReloadKeepsOldTableOnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes")
	writeFile(t, p, "alice legacy\n")
	r, err := NewRouter(p, known)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "alice native\nbob nowhere\n")
	if _, err := r.Reload(); err == nil {
		t.Fatal("Reload accepted an unknown backend")
	}
	if b, _ := r.Route("alice"); b != "legacy" {
		t.Errorf("after a bad reload alice -> %q, want the old legacy", b)
	}
	writeFile(t, p, "alice native\nbob native\n")
	d, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := r.Route("alice"); b != "native" {
		t.Errorf("after a good reload alice -> %q", b)
	}
	if a, rm, m := d.Counts(); a != 1 || rm != 0 || m != 1 {
		t.Errorf("diff = %v", d)
	}
}

func TestNewRouterRejectsABadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes")
	writeFile(t, p, "alice\n")
	if _, err := NewRouter(p, known); err == nil {
		t.Fatal("no error")
	}
}

func TestWatchPicksUpAChange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes")
	writeFile(t, p, "alice legacy\n")
	r, err := NewRouter(p, known)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		d   Diff
		err error
	}
	results := make(chan result, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		r.Watch(ctx, 10*time.Millisecond, func(d Diff, err error) { results <- result{d, err} })
	})
	defer func() { cancel(); wg.Wait() }()

	next := func() result {
		t.Helper()
		select {
		case res := <-results:
			return res
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher did not reload")
			return result{}
		}
	}
	// A different size is noticed even within one mtime tick.
	writeFile(t, p, "alice native\n# x\n")
	if res := next(); res.err != nil || len(res.d.Changes) != 1 || res.d.Changes[0].To != "native" {
		t.Fatalf("reload = %+v", res)
	}
	if b, _ := r.Route("alice"); b != "native" {
		t.Errorf("alice -> %q", b)
	}

	writeFile(t, p, "alice nowhere\n# xy\n")
	if res := next(); res.err == nil {
		t.Fatal("a bad file reloaded without error")
	}
	if b, _ := r.Route("alice"); b != "native" {
		t.Errorf("after a bad file alice -> %q", b)
	}
}

func TestWatchStopsWithContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes")
	writeFile(t, p, "alice legacy\n")
	r, err := NewRouter(p, known)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Watch(ctx, time.Millisecond, func(Diff, error) {}); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestConcurrentRouteAndReload(t *testing.T) {
	p := filepath.Join(t.TempDir(), "routes")
	writeFile(t, p, "alice legacy\n")
	r, err := NewRouter(p, known)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if b, ok := r.Route("alice"); !ok || (b != "legacy" && b != "native") {
					t.Errorf("Route = %q, %v", b, ok)
					return
				}
			}
		})
	}
	for range 20 {
		if _, err := r.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
