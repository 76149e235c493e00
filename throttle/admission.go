package throttle

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// slots limits the concurrent sessions of one backend. When all are taken,
// logins wait in a priority queue: lower level first, then first come first
// served. Penalised sessions (level > 0) share at most penalisedMax() of
// the slots, so a user at full speed does not wait for hogs' long sessions
// to end: the nice() of a proxy.
type slots struct {
	mu        sync.Mutex
	max       int // 0: unlimited
	active    int
	penalised int // sessions of active started at a level > 0
	seq       uint64
	waiting   waitQueue
}

// waiter is one login waiting for a slot. ready is closed when it is
// granted one; granted is read and written under slots.mu.
type waiter struct {
	level   int
	seq     uint64
	index   int
	granted bool
	ready   chan struct{}
}

// tryAcquire takes a slot if one is free for this level and nobody ahead
// waits; otherwise it queues a waiter and returns it.
func (s *slots) tryAcquire(level int) (w *waiter, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max <= 0 || (s.waiting.Len() == 0 && s.free(level)) {
		s.take(level)
		return nil, true
	}
	s.seq++
	w = &waiter{level: level, seq: s.seq, ready: make(chan struct{})}
	heap.Push(&s.waiting, w)
	// Hogs may wait only for the hogs' share, which this login may not need.
	s.dispatch()
	if w.granted {
		return nil, true
	}
	return w, false
}

// penalisedMax is the number of slots penalised sessions may hold
// together: a quarter, at least one.
func (s *slots) penalisedMax() int { return max(1, s.max/4) }

// free reports whether a login at level may start a session now. Called
// with s.mu held.
func (s *slots) free(level int) bool {
	return s.active < s.max && (level == 0 || s.penalised < s.penalisedMax())
}

// take counts a new session at level. Called with s.mu held.
func (s *slots) take(level int) {
	s.active++
	if level > 0 {
		s.penalised++
	}
}

// dispatch grants slots to waiters in queue order while the first one may
// take one. Called with s.mu held.
func (s *slots) dispatch() {
	for s.waiting.Len() > 0 {
		// The queue is ordered by level, so if the first waiter may not
		// start, nobody behind it may either.
		w := s.waiting[0]
		if !s.free(w.level) {
			return
		}
		heap.Pop(&s.waiting)
		s.take(w.level)
		w.granted = true
		close(w.ready)
	}
}

// abandon takes w out of the queue after a timeout or cancellation. If w
// was granted a slot in the meantime, the slot is passed on instead.
func (s *slots) abandon(w *waiter) {
	s.mu.Lock()
	granted := w.granted
	if !granted {
		heap.Remove(&s.waiting, w.index)
		s.dispatch()
	}
	s.mu.Unlock()
	if granted {
		s.release(w.level)
	}
}

// release frees the slot of a session admitted at level and hands it on
// to the best waiter that may take it.
func (s *slots) release(level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if level > 0 {
		s.penalised--
	}
	s.dispatch()
}

// counts returns the sessions in use and the logins waiting.
func (s *slots) counts() (active, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, s.waiting.Len()
}

// waitQueue is a container/heap of waiters ordered by (level, seq).
type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	if q[i].level != q[j].level {
		return q[i].level < q[j].level
	}
	return q[i].seq < q[j].seq
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return w
}

// wait blocks until w is granted a slot, ctx ends, or timeout (measured
// with sleep) passes. It reports whether the slot was granted; if not, w
// has left the queue and holds nothing.
func (s *slots) wait(ctx context.Context, w *waiter, sleep func(context.Context, time.Duration) error, timeout time.Duration) (granted bool, err error) {
	timerCtx, stop := context.WithCancel(ctx)
	expired := make(chan error, 1)
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		expired <- sleep(timerCtx, timeout)
	}()
	defer func() {
		stop()
		done.Wait()
	}()
	select {
	case <-w.ready:
		return true, nil
	case <-ctx.Done():
		s.abandon(w)
		return false, ctx.Err()
	case err := <-expired:
		// err is set only when ctx ended while sleeping.
		s.abandon(w)
		return false, err
	}
}
