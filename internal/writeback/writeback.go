// Package writeback keeps writes in memory until they are written to a
// file in one batch, so that a caller on a hot path does not wait for a
// disk transaction. Reads see every write at once: the pending ones, and
// the batch being written until it is committed (or a counter just raised
// would read as its old value while its batch is in flight).
package writeback

import "sync"

// Batch holds the writes not yet in the file. The zero value is ready to
// use. It is safe for concurrent use.
type Batch[V any] struct {
	flushing sync.Mutex // one flush at a time: batches go out in order

	mu      sync.Mutex
	pending map[string]V // set, not written yet
	writing map[string]V // being written by Flush
}

// Set records v for key, to be written by the next Flush.
func (b *Batch[V]) Set(key string, v V) {
	b.mu.Lock()
	if b.pending == nil {
		b.pending = map[string]V{}
	}
	b.pending[key] = v
	b.mu.Unlock()
}

// Get returns the value set for key that is not in the file yet.
func (b *Batch[V]) Get(key string) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.pending[key]; ok {
		return v, true
	}
	v, ok := b.writing[key]
	return v, ok
}

// Flush hands what is pending to write, which stores it in one
// transaction. If write fails, the values stay pending for the next Flush,
// except those set again meanwhile. It returns write's error.
func (b *Batch[V]) Flush(write func(map[string]V) error) error {
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending, b.writing = nil, batch
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := write(batch)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writing = nil
	if err != nil {
		for k, v := range batch {
			if _, newer := b.pending[k]; !newer {
				if b.pending == nil {
					b.pending = map[string]V{}
				}
				b.pending[k] = v
			}
		}
	}
	return err
}
