package pop3

import "bufio"

// freeList keeps up to cap(ch) idle buffers for reuse. Unlike a sync.Pool it
// is not emptied by every garbage collection: during a burst of logins
// collections come often, and each buffer a pool drops becomes garbage that
// the process keeps resident, which idle sessions then appear to cost.
type freeList[T any] struct {
	ch    chan T
	alloc func() T
}

func newFreeList[T any](n int, alloc func() T) *freeList[T] {
	return &freeList[T]{ch: make(chan T, n), alloc: alloc}
}

func (f *freeList[T]) get() T {
	select {
	case v := <-f.ch:
		return v
	default:
		return f.alloc()
	}
}

func (f *freeList[T]) put(v T) {
	select {
	case f.ch <- v:
	default: // enough kept; let the collector have it
	}
}

// idleBuffers is how many read and how many write buffers are kept for
// reuse: enough for the sessions that are busy at any one moment on a
// machine with a few cores, and at most 512 KiB each. More stay with the
// process for good after a burst of logins, which idle sessions then
// appear to cost: 64 of each were 4 MiB, 0.4 KiB per session of 10,000.
const idleBuffers = 16

var (
	readBuffers  = newFreeList(idleBuffers, func() *bufio.Reader { return bufio.NewReaderSize(nil, readBufferSize) })
	writeBuffers = newFreeList(idleBuffers, func() *bufio.Writer { return bufio.NewWriterSize(nil, writeBufferSize) })
)
