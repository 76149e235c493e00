package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/backend/lock"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/upstream"
)

// This file is the one place that turns POPGATE_BACKENDS into openers: a
// switch on the URL scheme, one case per backend package.

// builder builds one backend; legacy holds the pop3/pop3s backends built
// so far, which native backends may delegate password checks to.
type builder func(legacy map[string]pop3.Opener, users *usersFiles) (pop3.Opener, io.Closer, error)

// usersFiles is the users file loaded once for every native backend, so
// that a reload replaces it for all of them at once.
type usersFiles struct {
	path string
	f    *auth.UsersFile
	err  error
	done bool
}

func (u *usersFiles) load() (*auth.UsersFile, error) {
	if !u.done {
		u.f, u.err = auth.LoadUsersFile(u.path)
		u.done = true
	}
	return u.f, u.err
}

// backendOptions validates one backend's URL with its package's FromURL,
// without opening anything, and returns a builder for it.
func backendOptions(cfg config.Config, b config.Backend, leases lock.Leases) (builder, error) {
	switch b.URL.Scheme {
	case config.SchemePOP3, config.SchemePOP3S:
		o, err := upstream.FromURL(b.Name, b.URL)
		if err != nil {
			return nil, err
		}
		return func(map[string]pop3.Opener, *usersFiles) (pop3.Opener, io.Closer, error) {
			// The closer ends the pool of greeted connections, with QUIT.
			b := upstream.New(o)
			return b, b, nil
		}, nil

	case config.SchemeMbox, config.SchemeMaildir:
		o, err := backend.FromURL(b.Name, b.URL, nativeDataDir(cfg, b.Name))
		if err != nil {
			return nil, err
		}
		o.Leases, o.Instance = leases, cfg.Hostname
		if o.AuthBackend != "" && !isLegacy(cfg, o.AuthBackend) {
			return nil, fmt.Errorf("backend %s: auth_backend %q is not a pop3:// or pop3s:// backend", b.Name, o.AuthBackend)
		}
		return func(legacy map[string]pop3.Opener, users *usersFiles) (pop3.Opener, io.Closer, error) {
			a, err := nativeAuth(o, legacy, users)
			if err != nil {
				return nil, nil, fmt.Errorf("backend %s: %w", b.Name, err)
			}
			o.Auth = a
			if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
				return nil, nil, fmt.Errorf("backend %s: %w", b.Name, err)
			}
			nb, err := backend.New(o)
			if err != nil {
				return nil, nil, err
			}
			return nb, nb, nil
		}, nil
	}
	return nil, fmt.Errorf("backend %s: unknown scheme %q", b.Name, b.URL.Scheme)
}

// nativeAuth is the users file, and with auth_backend the legacy server for
// users the file does not list: a user in the file is decided by the file
// alone, so an old legacy password cannot get around a new one. Without a
// users file, delegation alone decides.
func nativeAuth(o backend.Options, legacy map[string]pop3.Opener, uf *usersFiles) (backend.Authenticator, error) {
	users, err := uf.load()
	if o.AuthBackend == "" {
		if err != nil {
			return nil, fmt.Errorf("users file: %w", err)
		}
		return users, nil
	}
	delegate := auth.Delegate(legacy[o.AuthBackend], auth.DelegateOptions{Name: o.AuthBackend})
	switch {
	case err == nil:
		return auth.Chain(users, delegate), nil
	case errors.Is(err, fs.ErrNotExist):
		return delegate, nil
	}
	return nil, fmt.Errorf("users file: %w", err)
}

// isLegacy reports whether name is a configured pop3:// or pop3s:// backend.
func isLegacy(cfg config.Config, name string) bool {
	return slices.Contains(cfg.LegacyBackends(), name)
}

// nativeDataDir gives each native backend its own index directory: the
// index is a bbolt file, which one process can open only once.
func nativeDataDir(cfg config.Config, name string) string {
	return filepath.Join(cfg.DataDir, "backends", name)
}

// checkBackends reports every backend whose URL its package rejects.
func checkBackends(cfg config.Config) config.ErrorList {
	var l config.ErrorList
	for _, b := range cfg.Backends {
		if _, err := backendOptions(cfg, b, nil); err != nil {
			l.Add("BACKENDS", err)
		}
	}
	return l
}

// openBackends builds every backend. With leases (from a shared store) a
// native backend's session lock holds across instances. The returned
// closer releases them; users is the users file the native backends use,
// nil if none.
func openBackends(cfg config.Config, leases lock.Leases) (openers map[string]pop3.Opener, _ io.Closer, users *auth.UsersFile, _ error) {
	openers = map[string]pop3.Opener{}
	uf := &usersFiles{path: cfg.UsersFile}
	legacy := map[string]pop3.Opener{}
	var closers closeAll
	// Legacy backends first: native ones may delegate to them.
	for _, pass := range []bool{true, false} {
		for _, b := range cfg.Backends {
			if b.Native() == pass {
				continue
			}
			build, err := backendOptions(cfg, b, leases)
			if err != nil {
				closers.Close()
				return nil, nil, nil, err
			}
			op, c, err := build(legacy, uf)
			if err != nil {
				closers.Close()
				return nil, nil, nil, err
			}
			openers[b.Name] = op
			if pass {
				legacy[b.Name] = op
			}
			if c != nil {
				closers = append(closers, c)
			}
		}
	}
	return openers, closers, uf.f, nil
}

// closeAll closes each of its members.
type closeAll []io.Closer

func (cs closeAll) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
