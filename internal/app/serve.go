package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/popgate/popgate/config"
	"github.com/popgate/popgate/internal/logging"
	"github.com/popgate/popgate/internal/sdnotify"
	"github.com/popgate/popgate/internal/tlsticket"
	"github.com/popgate/popgate/poison"
	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/recent"
	"github.com/popgate/popgate/routes"
	"github.com/popgate/popgate/session"
	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/httpstore"
)

// Addrs are the addresses the listeners got (nil when disabled).
type Addrs struct {
	Plain, TLS, Admin net.Addr
}

// serve runs the POP3 server until ctx is done, then drains it.
func serve(ctx context.Context, environ []string, stdout, stderr io.Writer, h Hooks) int {
	cfg, _, ok := loadConfig(environ, stderr)
	if !ok {
		return exitUsage
	}
	// Under systemd, standard output is the journal, and so is the local
	// syslog socket: with both, every line would be there twice.
	logOut, syslogOnly := stdout, cfg.Ops.Syslog.Network == "unixgram" && logging.IsJournalStream(stdout, environ)
	if syslogOnly {
		logOut = io.Discard
	}
	log, _, err := logging.New(logOut, string(cfg.LogFormat), cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitUsage
	}
	if cfg.Ops.Syslog.Enabled() {
		var closeSyslog func() error
		if log, closeSyslog, err = logging.WithSyslog(log, cfg.LogLevel, cfg.Ops.Syslog.Network, cfg.Ops.Syslog.Address); err != nil {
			fmt.Fprintf(stderr, "popgate: POPGATE_SYSLOG: %v\n", err)
			return exitFailure
		}
		defer closeSyslog()
		if syslogOnly {
			log.Info("logging to syslog only: standard output is the journal, which reads the syslog socket too",
				zap.String("syslog", cfg.Ops.Syslog.String()))
		}
	}
	defer func() { _ = log.Sync() }()
	if err := runServer(ctx, cfg, environ, log, stderr, h); err != nil {
		log.Error("popgate stopped", zap.Error(err))
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// runServer builds the server from cfg, serves until ctx is done and shuts
// down within the drain timeout.
func runServer(ctx context.Context, cfg config.Config, environ []string, log *zap.Logger, stderr io.Writer, h Hooks) error {
	tlsCfg, cert, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	if cert != nil {
		defer cert.tickets.Stop()
	}
	seeded, err := seedDemo(cfg)
	if err != nil {
		return err
	}
	uidls, err := openUIDLStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer uidls.Close()
	openers, closer, users, err := openBackends(cfg, sessionLeases(uidls))
	if err != nil {
		return err
	}
	defer closer.Close()
	if h.UIDLStore != nil {
		h.UIDLStore(uidls)
	}
	ops := newOperations(cfg, log)
	ops.watchStore(uidls)
	// The running server holds the bbolt file: "popgate uidl" reaches the
	// map through here.
	ops.Mux.Handle(httpstore.Prefix, httpstore.Handler(uidls))
	thr, err := newThrottle(cfg, uidls, log, ops.metrics)
	if err != nil {
		return err
	}
	maildrops := nativeMaildrops(openers)
	openers = ops.wrapOpeners(openers)

	opts := proxy.Options{
		Backends:          openers,
		DefaultBackend:    cfg.DefaultBackend,
		TLSConfig:         tlsCfg,
		RequireTLS:        cfg.RequireTLS,
		ProxyProtocolFrom: []netip.Prefix(cfg.ProxyProtocolFrom),
		IdleTimeout:       cfg.ProxyIdleTimeout(),
		AuthFailDelay:     cfg.ProxyAuthFailDelay(),
		LoginTimeout:      cfg.ProxyLoginTimeout(),

		MaxPreLogin:               config.ProxyLimit(cfg.MaxPreLogin),
		MaxPreLoginPerAddress:     config.ProxyLimit(cfg.MaxPreLoginPerAddress),
		MaxSessionsPerUserAddress: config.ProxyLimit(cfg.MaxUserAddressSessions),
		Hostname:                  cfg.Hostname,
		Logger:                    log,
	}
	if d := uidlDecorator(cfg, uidls, log); d != nil {
		opts.Decorators = append(opts.Decorators, d)
	}
	// After the UIDL decorator: poison messages are known by the UIDL the
	// client sees.
	bs, _ := uidls.(store.BreakStore)
	if bs != nil && cfg.Poison.PoisonLimit > 0 {
		po := cfg.PoisonOptions()
		po.Store, po.Logger, po.Hostname = bs, log, cfg.Hostname
		opts.Decorators = append(opts.Decorators, poison.New(po))
		ops.Mux.Handle("GET /poison", poison.ShowHandler(bs))
		ops.Mux.Handle("POST /poison/release", poison.ReleaseHandler(bs))
	}
	opts.Gate = thr
	ops.watchThrottle(cfg.BackendNames(), thr.Sessions)
	if thr.Enabled() {
		ops.Mux.Handle("GET /throttle", thr.ShowHandler())
		ops.Mux.Handle("POST /throttle/reset", thr.ResetHandler())
	}
	var router *routes.Router
	if cfg.Routes != "" {
		if router, err = routes.NewRouter(cfg.Routes, cfg.BackendNames()); err != nil {
			return err
		}
		opts.Router = router
	}
	ops.metrics.RoutesLoaded()
	sessions := recent.New(recentSessions, recentUsers)
	opts.OnSessionEnd = func(r *session.Record) {
		ops.metrics.SessionEnded(r)
		sessions.Add(r)
	}
	doc := &doctor{cfg: cfg, router: router, health: ops.health, sessions: sessions, uidls: uidls, breaks: bs, throttle: thr,
		maildrops: maildrops}
	doc.leases, _ = sessionLeases(uidls).(leaseHolders)
	ops.Mux.Handle("GET /doctor", doc.handler())
	srv, err := proxy.New(opts)
	if err != nil {
		return err
	}
	doc.openMaildrops = srv.OpenMaildrops
	ops.metrics.WatchPreLogin(srv.PreLogin)

	ls, err := openListeners(cfg, environ)
	if err != nil {
		return err
	}
	plain, secure := ops.countSessions(ls.Plain), ops.countSessions(ls.TLS)
	var (
		wg    sync.WaitGroup
		errc  = make(chan error, 2)
		bound Addrs
	)
	if plain != nil {
		bound.Plain = plain.Addr()
		wg.Go(func() { errc <- srv.Serve(plain) })
	}
	if secure != nil {
		bound.TLS = secure.Addr()
		wg.Go(func() { errc <- srv.ServeTLS(secure) })
	}
	if ls.Admin != nil {
		bound.Admin = ls.Admin.Addr()
	}
	ops.start(ls.Admin)
	defer ops.stop()
	ops.listening.Store(true)
	log.Info("popgate started", zap.String("version", version()),
		zap.Stringer("listen", addrOrOff(bound.Plain)), zap.Stringer("listen_tls", addrOrOff(bound.TLS)),
		zap.Stringer("admin_listen", addrOrOff(bound.Admin)),
		zap.Strings("backends", cfg.BackendNames()), zap.String("default_backend", cfg.DefaultBackend))
	printHint(stderr, cfg, seeded, bound)

	rl := &reloader{environ: environ, log: log, notify: sdnotify.New(lookup(environ)("NOTIFY_SOCKET")),
		counted: ops.metrics.RouteReload, cfg: cfg, cert: cert, users: users, thr: thr, router: router}
	ops.Mux.Handle("POST /reload", reloadHandler(rl))
	stopReloads := watchReloads(rl, h.Reload)
	defer stopReloads()
	_ = rl.notify.Ready("serving")
	if h.Listening != nil {
		h.Listening(bound)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down", zap.Int64("drain_timeout_ms", cfg.DrainTimeout.Milliseconds()))
	_ = rl.notify.Stopping()
	ops.beginDrain(cfg.DrainTimeout / 2)
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil && !errors.Is(err, proxy.ErrServerClosed) {
		log.Warn("drain timeout reached; remaining sessions closed without UPDATE", zap.Error(err))
	}
	wg.Wait()
	close(errc)
	if serveErr == nil {
		for err := range errc {
			if !errors.Is(err, proxy.ErrServerClosed) {
				serveErr = err
			}
		}
	}
	if serveErr != nil && !errors.Is(serveErr, proxy.ErrServerClosed) {
		return serveErr
	}
	log.Info("popgate stopped")
	return nil
}

// tlsConfig loads the certificate, if one is configured, into a holder
// that reloads replace, and starts the rotation of session ticket keys.
func tlsConfig(cfg config.Config) (*tls.Config, *certHolder, error) {
	if cfg.TLSCert == "" {
		return nil, nil, nil
	}
	pairs, err := loadKeyPairs(cfg)
	if err != nil {
		return nil, nil, err
	}
	secret, err := ticketSecret(cfg)
	if err != nil {
		return nil, nil, err
	}
	h := &certHolder{}
	h.p.Store(&pairs)
	tc := &tls.Config{GetCertificate: h.get, MinVersion: tls.VersionTLS12}
	h.tickets = tlsticket.Start(tc, secret)
	return tc, h, nil
}

// ticketSecret reads POPGATE_TLS_TICKET_KEY_FILE; nil when it is unset.
func ticketSecret(cfg config.Config) ([]byte, error) {
	if cfg.TLSTicketKeyFile == "" {
		return nil, nil
	}
	secret, err := tlsticket.ReadSecret(cfg.TLSTicketKeyFile)
	if err != nil {
		return nil, fmt.Errorf("POPGATE_TLS_TICKET_KEY_FILE: %w", err)
	}
	return secret, nil
}

type offAddr struct{}

func (offAddr) String() string { return config.Off }

func addrOrOff(a net.Addr) fmt.Stringer {
	if a == nil {
		return offAddr{}
	}
	return a
}
