package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/popgate/popgate/backend"
	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/pop3"
	"github.com/popgate/popgate/upstream"
)

// This file is the one place that turns POPGATE_BACKENDS into openers: a
// switch on the URL scheme, one case per backend package.

// backendOptions validates one backend's URL with its package's FromURL,
// without opening anything, and returns a builder for it.
func backendOptions(cfg config.Config, b config.Backend) (func() (pop3.Opener, io.Closer, error), error) {
	switch b.URL.Scheme {
	case config.SchemePOP3, config.SchemePOP3S:
		o, err := upstream.FromURL(b.Name, b.URL)
		if err != nil {
			return nil, err
		}
		return func() (pop3.Opener, io.Closer, error) { return upstream.New(o), nil, nil }, nil

	case config.SchemeMbox, config.SchemeMaildir:
		o, err := backend.FromURL(b.Name, b.URL, nativeDataDir(cfg, b.Name))
		if err != nil {
			return nil, err
		}
		return func() (pop3.Opener, io.Closer, error) {
			users, err := auth.LoadUsersFile(cfg.UsersFile)
			if err != nil {
				return nil, nil, fmt.Errorf("backend %s: users file: %w", b.Name, err)
			}
			o.Auth = users
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

// nativeDataDir gives each native backend its own index directory: the
// index is a bbolt file, which one process can open only once.
func nativeDataDir(cfg config.Config, name string) string {
	return filepath.Join(cfg.DataDir, "backends", name)
}

// checkBackends reports every backend whose URL its package rejects.
func checkBackends(cfg config.Config) config.ErrorList {
	var l config.ErrorList
	for _, b := range cfg.Backends {
		if _, err := backendOptions(cfg, b); err != nil {
			l.Add("BACKENDS", err)
		}
	}
	return l
}

// openBackends builds every backend. The returned closer releases them.
func openBackends(cfg config.Config) (map[string]pop3.Opener, io.Closer, error) {
	openers := map[string]pop3.Opener{}
	var closers closeAll
	for _, b := range cfg.Backends {
		build, err := backendOptions(cfg, b)
		if err != nil {
			closers.Close()
			return nil, nil, err
		}
		op, c, err := build()
		if err != nil {
			closers.Close()
			return nil, nil, err
		}
		openers[b.Name] = op
		if c != nil {
			closers = append(closers, c)
		}
	}
	return openers, closers, nil
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
