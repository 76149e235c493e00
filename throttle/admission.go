package throttle

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// slots limits the concurrent sessions of one backend. When all are taken,
// logins wait in a priority queue: lower level first, then first come first
// served.
type slots struct {
	mu      sync.Mutex
	max     int // 0: unlimited
	active  int
	seq     uint64
	waiting waitQueue
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

// tryAcquire takes a free slot, or queues a waiter and returns it.
func (s *slots) tryAcquire(level int) (w *waiter, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max <= 0 || (s.active < s.max && s.waiting.Len() == 0) {
		s.active++
		return nil, true
	}
	s.seq++
	w = &waiter{level: level, seq: s.seq, ready: make(chan struct{})}
	heap.Push(&s.waiting, w)
	return w, false
}

// abandon takes w out of the queue after a timeout or cancellation. If w
// was granted a slot in the meantime, the slot is passed on instead.
func (s *slots) abandon(w *waiter) {
	s.mu.Lock()
	granted := w.granted
	if !granted {
		heap.Remove(&s.waiting, w.index)
	}
	s.mu.Unlock()
	if granted {
		s.release()
	}
}

// release frees a slot, handing it straight to the best waiter if any.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting.Len() > 0 {
		w := heap.Pop(&s.waiting).(*waiter)
		w.granted = true
		close(w.ready)
		return
	}
	s.active--
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
