package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/popgate/popgate/backend/auth"
	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/internal/sdnotify"
	"github.com/popgate/popgate/internal/tlsticket"
	"github.com/popgate/popgate/routes"
	"github.com/popgate/popgate/throttle"
)

// reloadVars are the variables a reload puts in force; any other change
// is reported as needing a restart.
var reloadVars = []string{"TLS_CERT", "TLS_KEY", "TLS_ALT_CERT", "TLS_ALT_KEY", "TLS_TICKET_KEY_FILE", "THROTTLE", "ENV_FILE"}

// certHolder is the TLS key pairs in force, replaced by reloads; TLS
// handshakes read them through tls.Config.GetCertificate. The session
// ticket keys outlive new certificates: tickets stay good across reloads.
type certHolder struct {
	p       atomic.Pointer[[]tls.Certificate]
	tickets *tlsticket.Rotator
}

// get gives a client the first key pair it can use: POPGATE_TLS_CERT, or
// else POPGATE_TLS_ALT_CERT. With an ECDSA pair first and an RSA pair
// second, every client that can verify ECDSA (nearly all today) gets the
// cheaper handshake, and the others still get in. A client that can use
// neither gets the first, and the handshake fails as it would have.
func (h *certHolder) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	pairs := *h.p.Load()
	if len(pairs) > 1 {
		for i := range pairs {
			if hello.SupportsCertificate(&pairs[i]) == nil {
				return &pairs[i], nil
			}
		}
	}
	return &pairs[0], nil
}

// loadKeyPairs loads POPGATE_TLS_CERT/KEY and, if set, the second pair.
func loadKeyPairs(cfg config.Config) ([]tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS key pair %s: %w", cfg.TLSCert, err)
	}
	pairs := []tls.Certificate{pair}
	if cfg.TLSAltCert != "" {
		alt, err := tls.LoadX509KeyPair(cfg.TLSAltCert, cfg.TLSAltKey)
		if err != nil {
			return nil, fmt.Errorf("loading the second TLS key pair %s: %w", cfg.TLSAltCert, err)
		}
		pairs = append(pairs, alt)
	}
	return pairs, nil
}

// reloader reloads, all or nothing, what can change in a running server:
// the TLS key pair, the users file, the throttle settings and the routes
// file. New variables come from POPGATE_ENV_FILE, read again each time.
type reloader struct {
	environ []string
	log     *zap.Logger
	notify  *sdnotify.Notifier
	counted func(error) // routes reload metric

	mu     sync.Mutex // one reload at a time
	cfg    config.Config
	cert   *certHolder // nil without TLS
	users  *auth.UsersFile
	thr    *throttle.Throttle
	router *routes.Router // nil without a routes file
}

// reload runs one reload and reports its outcome to systemd and the log.
// On any error nothing changes.
func (r *reloader) reload(cause string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.notify.Reloading()
	err := r.reloadLocked(cause)
	status := "serving; last reload OK"
	if err != nil {
		status = "serving; last reload failed: " + err.Error()
		r.log.Error("reload failed; keeping the previous configuration", zap.String("cause", cause), zap.Error(err))
	}
	_ = r.notify.Ready(status)
	return err
}

func (r *reloader) reloadLocked(cause string) error {
	if r.router != nil {
		if _, err := routes.Load(r.router.Path(), r.cfg.BackendNames()); err != nil {
			logReload(r.log, r.router, cause, routes.Diff{}, err)
			r.count(err)
			return err
		}
	}
	var problems strings.Builder
	cfg, _, ok := loadConfig(r.environ, &problems)
	if !ok {
		return errors.New(strings.TrimSpace(problems.String()))
	}
	// Prepare everything, then put it in force.
	var commits []func()
	if r.cert != nil {
		pairs, err := loadKeyPairs(cfg)
		if err != nil {
			return err
		}
		commits = append(commits, func() { r.cert.p.Store(&pairs) })
		// A ticket key file is read again, so that a new secret is put in
		// force by a reload. Without one, the random secret stays.
		secret, err := ticketSecret(cfg)
		if err != nil {
			return err
		}
		if secret != nil || r.cfg.TLSTicketKeyFile != "" {
			commits = append(commits, func() { r.cert.tickets.SetSecret(secret) })
		}
	}
	if r.users != nil {
		commit, warnings, err := r.users.Prepare()
		if err != nil {
			return err
		}
		for _, w := range warnings {
			r.log.Warn("users file line disabled", zap.String("file", r.users.Path()), zap.String("problem", w))
		}
		commits = append(commits, commit)
	}
	settings := cfg.ThrottleSettings()
	if err := r.thr.CheckReload(settings); err != nil {
		return err
	}
	commits = append(commits, func() { _ = r.thr.Reload(settings) })
	for _, c := range commits {
		c()
	}
	if r.router != nil {
		d, err := r.router.Reload()
		logReload(r.log, r.router, cause, d, err)
		r.count(err)
	}
	restart := needsRestart(r.cfg, cfg)
	if len(restart) > 0 {
		r.log.Warn("reload: these changes need a restart", zap.Strings("variables", restart))
	}
	r.log.Info("configuration reloaded", zap.String("cause", cause), zap.Bool("tls", r.cert != nil),
		zap.Bool("users_file", r.users != nil), zap.Bool("routes", r.router != nil))
	r.cfg = cfg
	return nil
}

func (r *reloader) count(err error) {
	if r.counted != nil {
		r.counted(err)
	}
}

// needsRestart lists the variables that differ between a and b and that a
// reload does not put in force.
func needsRestart(a, b config.Config) []string {
	before := map[string]string{}
	for line := range strings.Lines(a.String()) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		before[k] = v
	}
	var vars []string
	for line := range strings.Lines(b.String()) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		if before[k] == v || reloadable(k) {
			continue
		}
		vars = append(vars, k)
	}
	return vars
}

func reloadable(k string) bool {
	name := strings.TrimPrefix(k, config.Prefix)
	for _, v := range reloadVars {
		if name == v || strings.HasPrefix(name, v+"_") {
			return true
		}
	}
	return false
}

// watchReloads reloads on SIGHUP (or on trigger, for tests), and the
// routes alone when the routes file changes, until the returned stop is
// called. The signal handler is installed before watchReloads returns.
func watchReloads(r *reloader, trigger <-chan struct{}) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			case <-trigger:
			}
			_ = r.reload("SIGHUP")
		}
	})
	if r.router != nil {
		wg.Go(func() {
			r.router.Watch(ctx, routes.DefaultPollInterval, func(d routes.Diff, err error) {
				logReload(r.log, r.router, "file changed", d, err)
				r.count(err)
			})
		})
	}
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}

// logReload logs the outcome of a routes reload.
func logReload(log *zap.Logger, r *routes.Router, cause string, d routes.Diff, err error) {
	if err != nil {
		log.Error("routes reload failed; keeping the previous table",
			zap.String("file", r.Path()), zap.String("cause", cause), zap.Error(err))
		return
	}
	added, removed, moved := d.Counts()
	log.Info("routes reloaded", zap.String("file", r.Path()), zap.String("cause", cause),
		zap.Int("rules", d.After), zap.Int("added", added), zap.Int("removed", removed),
		zap.Int("moved", moved), zap.String("changes", d.String()))
}
