package auth

import (
	"context"
	"sync"
)

// keyedMutex serialises work per key. Delegate uses it so that concurrent
// logins of one user ask the legacy server once: the others wait and then
// find the answer in the cache, instead of racing for the legacy maildrop
// lock and getting [IN-USE].
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{} // holds a token while the lock is taken
	refs int           // goroutines holding or waiting; the entry goes at 0
}

// lock takes the lock for key, or gives up when ctx ends. The returned
// function releases it.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
