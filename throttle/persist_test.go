package throttle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/pop3"
)

// mapKV is a KV in memory that can be made to fail, like a store that is
// down.
type mapKV struct {
	mu   sync.Mutex
	m    map[string][]byte
	down bool
}

var errDown = errors.New("store down")

func (k *mapKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down {
		return nil, false, errDown
	}
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *mapKV) Put(_ context.Context, key string, v []byte, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down {
		return errDown
	}
	if k.m == nil {
		k.m = map[string][]byte{}
	}
	k.m[key] = v
	return nil
}

func (k *mapKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down {
		return errDown
	}
	delete(k.m, key)
	return nil
}

func (k *mapKV) setDown(down bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.down = down
}

func newPersisted(t *testing.T, kv KV, clock *autoClock, o Options) *Throttle {
	t.Helper()
	cfg := DefaultConfig()
	cfg.AuthFailLimit = 3
	o.Now, o.Sleep, o.Persist = clock.Now, clock.Sleep, kv
	th, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// A throttle on the same store after a restart knows the hog's level and
// the guesser's failures; Reset forgets both.
func TestPersistedStateSurvivesRestart(t *testing.T) {
	kv, clock := &mapKV{}, newAutoClock()
	before := newPersisted(t, kv, clock, Options{})
	const big = 800 << 20
	for range 3 {
		if _, err := poll(t, before, "hog", big); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	for range 3 {
		if _, err := attempt(t, before, clock, "victim", clientB, false); err != nil {
			t.Fatal(err)
		}
	}

	after := newPersisted(t, kv, clock, Options{})
	if st, level := after.Show("hog"); level == 0 || st.Bytes != big {
		t.Errorf("after a restart: hog at level %d with %d bytes; want its penalty", level, st.Bytes)
	}
	if _, err := attempt(t, after, clock, "victim", clientB, true); err == nil || !strings.Contains(err.Error(), "failed logins") {
		t.Errorf("guesser after a restart: %v; want refused", err)
	}

	after.Reset("hog")
	after.Reset("victim")
	if _, level := after.Show("hog"); level != 0 {
		t.Errorf("after Reset: hog at level %d", level)
	}
	if _, err := attempt(t, after, clock, "victim", clientB, true); err != nil {
		t.Errorf("after Reset: %v; want the login through", err)
	}
}

// With the store down, logins go through unthrottled and the outage is
// reported once; when it comes back, once again.
func TestPersistedStateFailsOpen(t *testing.T) {
	kv, clock := &mapKV{}, newAutoClock()
	var downs, ups int
	th := newPersisted(t, kv, clock, Options{
		StoreDown: func(error) { downs++ },
		StoreUp:   func() { ups++ },
	})
	const big = 800 << 20
	for range 3 {
		if _, err := poll(t, th, "hog", big); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	kv.setDown(true)
	for range 3 {
		d, err := poll(t, th, "hog", big)
		if err != nil || d.Level != 0 {
			t.Errorf("store down: %+v, %v; want let through at level 0", d, err)
		}
		tk, err := th.AdmitUser(context.Background(), "x", "legacy", clientB)
		if err != nil {
			t.Fatal(err)
		}
		tk.Failed(pop3.ErrAuthFailed)
	}
	if downs != 1 || ups != 0 {
		t.Errorf("during the outage: %d down and %d up reports; want 1 and 0", downs, ups)
	}
	kv.setDown(false)
	if _, err := poll(t, th, "hog", big); err != nil {
		t.Fatal(err)
	}
	if downs != 1 || ups != 1 {
		t.Errorf("after the outage: %d down and %d up reports; want 1 and 1", downs, ups)
	}
}
