// Package config turns the POPGATE_* environment into one typed, validated
// Config. It is the only package that reads the environment, and it reads
// it from a slice handed in by the caller, never from the process.
package config

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.uber.org/zap/zapcore"

	"github.com/popgate/popgate/proxy"
	"github.com/popgate/popgate/throttle"
)

// Prefix starts the name of every variable popgate reads.
const Prefix = "POPGATE_"

// MinIdleTimeout is the shortest idle timeout allowed: RFC 1939 section 3
// says an inactivity autologout timer must be of at least 10 minutes.
const MinIdleTimeout = 10 * time.Minute

// Config is the whole configuration of one popgate process. The env tags
// name each variable without the POPGATE_ prefix; fields whose default
// depends on another variable are filled in by Load.
type Config struct {
	// setVars are the POPGATE_* variables that were set.
	setVars []string

	// Listen is the plain POP3 address (STLS offered when a certificate is
	// set); "off" disables it.
	Listen ListenAddr `env:"LISTEN" envDefault:"127.0.0.1:1110"`
	// ListenTLS is the implicit-TLS (pop3s) address; unset means none.
	ListenTLS ListenAddr `env:"LISTEN_TLS"`
	TLSCert   string     `env:"TLS_CERT"`
	TLSKey    string     `env:"TLS_KEY"`
	// TLSAltCert and TLSAltKey are a second key pair, of the other key
	// type, for clients that cannot use the first (see internal/app).
	TLSAltCert string `env:"TLS_ALT_CERT"`
	TLSAltKey  string `env:"TLS_ALT_KEY"`
	RequireTLS bool   `env:"REQUIRE_TLS"`
	// TLSTicketKeyFile holds the secret the session ticket keys derive
	// from; unset means a random secret per process (see internal/tlsticket).
	TLSTicketKeyFile string `env:"TLS_TICKET_KEY_FILE"`
	// ProxyProtocolFrom lists the networks allowed to send a PROXY header.
	ProxyProtocolFrom CIDRList `env:"PROXY_PROTOCOL_FROM"`

	// Backends defaults to one native backend over the data directory
	// (NativeDefault).
	Backends       BackendList `env:"BACKENDS"`
	DefaultBackend string      `env:"DEFAULT_BACKEND"`
	// Routes is the path of the routes file; empty means every user goes to
	// DefaultBackend.
	Routes string `env:"ROUTES"`

	DataDir string `env:"DATA_DIR" envDefault:"./popgate-data"`
	// Store defaults to bolt:// followed by DataDir.
	Store StoreURL `env:"STORE"`
	// StorePrefix starts every key popgate writes to a shared store, so
	// that several clusters can share one Redis.
	StorePrefix string `env:"STORE_PREFIX" envDefault:"popgate:"`
	// UsersFile is the native backend's users file; defaults to DataDir/users.
	UsersFile string `env:"USERS_FILE"`

	LogFormat   LogFormat     `env:"LOG_FORMAT" envDefault:"json"`
	LogLevel    zapcore.Level `env:"LOG_LEVEL" envDefault:"info"`
	AdminListen ListenAddr    `env:"ADMIN_LISTEN" envDefault:"127.0.0.1:9110"`

	// IdleTimeout and AuthFailDelay are nil when unset, which gives the
	// proxy's defaults (see ProxyIdleTimeout, ProxyAuthFailDelay).
	IdleTimeout   *time.Duration `env:"IDLE_TIMEOUT"`
	DrainTimeout  time.Duration  `env:"DRAIN_TIMEOUT" envDefault:"30s"`
	AuthFailDelay *time.Duration `env:"AUTH_FAIL_DELAY"`
	// EnvFile is read at start and on reload (see envfile.go).
	EnvFile string `env:"ENV_FILE"`
	// Connection limits (see limits.go); 0 means none.
	LoginTimeout           time.Duration `env:"LOGIN_TIMEOUT" envDefault:"1m"`
	MaxPreLogin            int           `env:"MAX_PRELOGIN" envDefault:"5000"`
	MaxPreLoginPerAddress  int           `env:"MAX_PRELOGIN_PER_ADDRESS" envDefault:"50"`
	MaxUserAddressSessions int           `env:"MAX_USER_ADDRESS_SESSIONS" envDefault:"10"`
	// Hostname appears in the greeting's APOP timestamp; defaults to the
	// machine's host name.
	Hostname string `env:"HOSTNAME"`

	// Throttling is POPGATE_THROTTLE: on or off.
	Throttling throttle.Mode `env:"THROTTLE" envDefault:"on"`
	// Throttle holds the POPGATE_THROTTLE_* settings (see throttle.go).
	Throttle ThrottleVars `envPrefix:"THROTTLE_"`
	// Ops holds the health check and syslog settings (see ops.go).
	Ops OpsConfig
	// UIDL holds the POPGATE_UIDL_* settings (see uidl.go).
	UIDL UIDLVars `envPrefix:"UIDL_"`
	// Poison holds the POPGATE_POISON_* settings (see poison.go).
	Poison PoisonVars `envPrefix:"POISON_"`
}

// Load parses environ (in os.Environ form) with Parse and validates the
// result with Validate. The Config is returned even with an error, for
// display.
func Load(environ []string) (Config, error) {
	cfg, err := Parse(environ)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Parse reads the POPGATE_* variables of environ and fills in the defaults
// that depend on other variables, without validating. It reports every
// unparsable value and every unknown POPGATE_* variable at once, each named
// by its variable, as an ErrorList.
func Parse(environ []string) (Config, error) {
	m := env.ToMap(environ)
	if m == nil {
		// A nil map would make env fall back to the process environment.
		m = map[string]string{}
	}
	unknown := unknownVars(m)
	var set []string
	for k := range m {
		if strings.HasPrefix(k, Prefix) {
			set = append(set, k)
		}
	}
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: Prefix, Environment: m})
	if err != nil {
		l, _ := namedErrors(err).(ErrorList)
		return cfg, append(unknown, l...)
	}
	cfg.setVars = set
	cfg.fillDerivedDefaults()
	return cfg, unknown.Err()
}

// fillDerivedDefaults sets the defaults that depend on other variables.
func (c *Config) fillDerivedDefaults() {
	if c.Store.Scheme == "" {
		c.Store = StoreURL{Scheme: StoreBolt, Location: c.DataDir}
	}
	if c.UsersFile == "" {
		c.UsersFile = filepath.Join(c.DataDir, "users")
	}
	if len(c.Backends) == 0 {
		c.Backends = BackendList{NativeDefault(c.DataDir)}
		if c.DefaultBackend == "" {
			c.DefaultBackend = NativeBackendName
		}
	}
	if c.DefaultBackend == "" && len(c.Backends) == 1 {
		// With one backend there is nothing to choose.
		c.DefaultBackend = c.Backends[0].Name
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Hostname = h
	}
}

// ProxyIdleTimeout is POPGATE_IDLE_TIMEOUT as proxy.Options takes it:
// zero, when unset, means the proxy's default.
func (c Config) ProxyIdleTimeout() time.Duration { return valueOr(c.IdleTimeout, 0) }

// ProxyAuthFailDelay is POPGATE_AUTH_FAIL_DELAY as proxy.Options takes
// it: there zero, when unset, means its default, and a negative delay
// none, which the variable spells 0.
func (c Config) ProxyAuthFailDelay() time.Duration {
	switch {
	case c.AuthFailDelay == nil:
		return 0
	case *c.AuthFailDelay == 0:
		return -1
	}
	return *c.AuthFailDelay
}

// idleTimeout and authFailDelay are the effective values, for Validate
// and String.
func (c Config) idleTimeout() time.Duration {
	return valueOr(c.IdleTimeout, proxy.DefaultIdleTimeout)
}

func (c Config) authFailDelay() time.Duration {
	return valueOr(c.AuthFailDelay, proxy.DefaultAuthFailDelay)
}

// UsesEmbeddedDefault reports whether popgate serves the embedded default:
// no POPGATE_BACKENDS and the default users file, so that the data
// directory may be seeded with a demo user.
//
// Only a configuration that says nothing but where to listen and keep its
// data gets the demo user demo/demo, and only on a loopback listener: a
// server meant to be configured must never serve a well-known password.
func (c *Config) UsesEmbeddedDefault() bool {
	for _, v := range c.setVars {
		if v != Prefix+"LISTEN" && v != Prefix+"DATA_DIR" {
			return false
		}
	}
	return c.Listen.Loopback() && len(c.Backends) == 1 && c.Backends[0].String() == NativeDefault(c.DataDir).String() &&
		c.UsersFile == filepath.Join(c.DataDir, "users")
}

// BackendNames returns the configured backend names in order.
func (c *Config) BackendNames() []string {
	names := make([]string, len(c.Backends))
	for i, b := range c.Backends {
		names[i] = b.Name
	}
	return names
}
