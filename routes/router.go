package routes

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often Watch looks at the file.
const DefaultPollInterval = 2 * time.Second

// Router serves lookups from the current table of one routes file and
// reloads it on request. Its Route method is what proxy.Router expects.
type Router struct {
	path  string
	known []string
	table atomic.Pointer[Table]

	mu    sync.Mutex // serialises reloads
	stamp fileStamp  // of the file as last read, good or bad
}

// NewRouter loads the routes file at path; knownBackends as for Load.
func NewRouter(path string, knownBackends []string) (*Router, error) {
	r := &Router{path: path, known: knownBackends}
	st, _ := stampOf(path)
	t, err := Load(path, knownBackends)
	if err != nil {
		return nil, err
	}
	r.table.Store(t)
	r.stamp = st
	return r, nil
}

// Route returns the backend for user from the current table.
func (r *Router) Route(user string) (string, bool) { return r.table.Load().Route(user) }

// Explain returns the backend for user and the rule of the current table
// that chose it (see Table.Explain).
func (r *Router) Explain(user string) (backend, rule string, ok bool) {
	return r.table.Load().Explain(user)
}

// Path is the routes file's name.
func (r *Router) Path() string { return r.path }

// Reload reads the file again. On error the current table stays in place
// and the error says why; on success it returns what changed.
func (r *Router) Reload() (Diff, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, _ := stampOf(r.path)
	r.stamp = st
	t, err := Load(r.path, r.known)
	if err != nil {
		return Diff{}, fmt.Errorf("routes: keeping the previous table: %w", err)
	}
	old := r.table.Swap(t)
	return Compare(old, t), nil
}

// Watch polls the file every interval (DefaultPollInterval if <= 0) and
// reloads it when its modification time or size changes, calling report
// with the result of each reload. It returns when ctx is done.
func (r *Router) Watch(ctx context.Context, interval time.Duration, report func(Diff, error)) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !r.changed() {
			continue
		}
		d, err := r.Reload()
		report(d, err)
	}
}

func (r *Router) changed() bool {
	st, _ := stampOf(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	return st != r.stamp
}

// fileStamp identifies a version of a file well enough to notice edits.
// A missing file has the zero stamp.
type fileStamp struct {
	modNanos int64
	size     int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{modNanos: fi.ModTime().UnixNano(), size: fi.Size()}, nil
}
