package config

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/popgate/popgate/rewrite"
	"github.com/popgate/popgate/throttle"
)

// load is Load with variables given as NAME=value without the prefix.
func load(t *testing.T, vars ...string) (Config, error) {
	t.Helper()
	environ := make([]string, len(vars))
	for i, v := range vars {
		environ[i] = Prefix + v
	}
	return Load(environ)
}

func mustLoad(t *testing.T, vars ...string) Config {
	t.Helper()
	c, err := load(t, vars...)
	if err != nil {
		t.Fatalf("Load(%q): %v", vars, err)
	}
	return c
}

func TestNoEnvironmentIsTheEmbeddedDefault(t *testing.T) {
	t.Setenv("POPGATE_LISTEN", "192.0.2.1:1") // the process environment must be ignored
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1110" || c.ListenTLS.Enabled() {
		t.Errorf("listeners = %q, %q", c.Listen, c.ListenTLS)
	}
	if c.DataDir != "./popgate-data" {
		t.Errorf("DataDir = %q", c.DataDir)
	}
	if len(c.Backends) != 1 || c.Backends[0].Name != "native" || c.DefaultBackend != "native" {
		t.Fatalf("backends = %v, default %q", c.Backends, c.DefaultBackend)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := RedactURL(c.Backends[0].URL), "maildir://"+wd+"/popgate-data/mail/%u/Maildir"; got != want {
		t.Errorf("native backend = %q, want %q", got, want)
	}
	if c.Store != (StoreURL{Scheme: "bolt", Location: "./popgate-data"}) {
		t.Errorf("Store = %v", c.Store)
	}
	if c.UsersFile != "popgate-data/users" {
		t.Errorf("UsersFile = %q", c.UsersFile)
	}
	if c.LogFormat != LogJSON || c.LogLevel != zapcore.InfoLevel || c.AdminListen != "127.0.0.1:9110" {
		t.Errorf("log %q %v admin %q", c.LogFormat, c.LogLevel, c.AdminListen)
	}
	if c.ProxyIdleTimeout() != 0 || c.DrainTimeout != 30*time.Second || c.ProxyAuthFailDelay() != 0 {
		t.Errorf("timeouts %v %v %v, want the proxy's defaults and 30s", c.ProxyIdleTimeout(), c.DrainTimeout, c.ProxyAuthFailDelay())
	}
	for _, want := range []string{"POPGATE_IDLE_TIMEOUT=10m0s\n", "POPGATE_AUTH_FAIL_DELAY=1s\n", "POPGATE_HEALTH_INTERVAL=10s\n"} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks the default %q", want)
		}
	}
	if c.Hostname == "" || c.RequireTLS || len(c.ProxyProtocolFrom) != 0 || c.Routes != "" {
		t.Errorf("unexpected %+v", c)
	}
	if o, _, _ := c.UIDLOptions(); o != (rewrite.Options{}) {
		t.Errorf("UIDLOptions = %+v, want rewrite's defaults", o)
	}
	if !strings.Contains(c.String(), "POPGATE_UIDL_RECHECK=10m0s\n") {
		t.Errorf("String() does not show the default UIDL_RECHECK:\n%s", c.String())
	}
}

// POPGATE_UIDL_RECHECK=0 (or negative) turns the shortcut off; it is not
// a mistake.
func TestUIDLRecheckOff(t *testing.T) {
	for _, v := range []string{"0", "0s", "-1s"} {
		c := mustLoad(t, "UIDL_RECHECK="+v)
		if o, _, _ := c.UIDLOptions(); o.Recheck >= 0 {
			t.Errorf("UIDL_RECHECK=%s gave Recheck %v, want negative (none)", v, o.Recheck)
		}
	}
}

// POPGATE_UIDL_BUDGET=0 fetches nothing at QUIT; unset it is rewrite's
// default.
func TestUIDLBudgetZero(t *testing.T) {
	c := mustLoad(t, "UIDL_BUDGET=0", "BACKENDS=old=pop3://127.0.0.1:110,new=maildir:///srv/%u", "DEFAULT_BACKEND=new")
	o, legacy, ok := c.UIDLOptions()
	if !ok || o.Budget >= 0 || !slices.Equal(legacy, []string{"old"}) {
		t.Errorf("UIDLOptions = %+v, %q, %v; want a negative budget, learning from old", o, legacy, ok)
	}
	if _, _, ok := mustLoad(t, "UIDL_DISABLE=true").UIDLOptions(); ok {
		t.Error("UIDL_DISABLE=true still gave options")
	}
}

func TestEveryVariableParses(t *testing.T) {
	c := mustLoad(t,
		"LISTEN=0.0.0.0:110",
		"LISTEN_TLS=[::1]:995",
		"TLS_CERT=/etc/popgate/cert.pem",
		"TLS_KEY=/etc/popgate/key.pem",
		"REQUIRE_TLS=true",
		"TLS_TICKET_KEY_FILE=/etc/popgate/ticket.key",
		"PROXY_PROTOCOL_FROM=10.0.0.0/8, 192.0.2.7,2001:db8::/32,::1",
		"BACKENDS=legacy=pop3://127.0.0.1:11110?max_sessions=40&proxy_protocol=v2,secure=pop3s://mail.example.org,native=maildir:///var/vmail/%u,spool=mbox:///var/mail/%u",
		"DEFAULT_BACKEND=legacy",
		"ROUTES=/etc/popgate/routes",
		"DATA_DIR=/var/lib/popgate",
		"STORE=bolt:///srv/state",
		"STORE_PREFIX=site-a:",
		"USERS_FILE=/etc/popgate/users",
		"LOG_FORMAT=console",
		"LOG_LEVEL=debug",
		"ADMIN_LISTEN=off",
		"IDLE_TIMEOUT=15m",
		"DRAIN_TIMEOUT=5s",
		"AUTH_FAIL_DELAY=0s",
		"LOGIN_TIMEOUT=30s",
		"MAX_PRELOGIN=300",
		"MAX_PRELOGIN_PER_ADDRESS=0",
		"MAX_USER_ADDRESS_SESSIONS=3",
		"HOSTNAME=pop.example.org",
		"HEALTH_INTERVAL=2s",
		"HEALTH_TIMEOUT=500ms",
		"HEALTH_FAILURES=3",
		"HEALTH_STRICT=true",
		"SYSLOG=unix:///dev/log",
		"UIDL_LEARN_FROM=legacy,secure",
		"UIDL_BUDGET=200",
		"UIDL_BUDGET_TIME=1s",
		"UIDL_RECHECK=2m",
		"UIDL_DISABLE=true",
		"THROTTLE=off",
		"THROTTLE_SOFT_BYTES=10M",
		"THROTTLE_ENFORCE_LOGIN_DELAY=true",
		"POISON_LIMIT=5",
		"POISON_ACTION=skip",
	)
	wantThrottle := throttle.DefaultConfig()
	wantThrottle.Mode = throttle.ModeOff
	wantThrottle.SoftBytes = 10 << 20
	wantThrottle.EnforceLoginDelay = true
	if got := c.ThrottleSettings(); got != wantThrottle {
		t.Errorf("ThrottleSettings = %+v\nwant %+v", got, wantThrottle)
	}
	want := Config{
		Listen:           "0.0.0.0:110",
		ListenTLS:        "[::1]:995",
		TLSCert:          "/etc/popgate/cert.pem",
		TLSKey:           "/etc/popgate/key.pem",
		RequireTLS:       true,
		DefaultBackend:   "legacy",
		TLSTicketKeyFile: "/etc/popgate/ticket.key",
		Routes:           "/etc/popgate/routes",
		DataDir:          "/var/lib/popgate",
		Store:            StoreURL{Scheme: "bolt", Location: "/srv/state"},
		StorePrefix:      "site-a:",
		UsersFile:        "/etc/popgate/users",
		LogFormat:        LogConsole,
		LogLevel:         zapcore.DebugLevel,
		AdminListen:      "",
		IdleTimeout:      ptr(15 * time.Minute),
		DrainTimeout:     5 * time.Second,
		AuthFailDelay:    ptr(time.Duration(0)),
		LoginTimeout:     30 * time.Second,
		MaxPreLogin:      300,
		// 0 is off, which proxy.Options spells -1.
		MaxPreLoginPerAddress:  0,
		MaxUserAddressSessions: 3,
		Hostname:               "pop.example.org",
		Ops: OpsConfig{HealthInterval: ptr(2 * time.Second), HealthTimeout: ptr(500 * time.Millisecond),
			HealthFailures: ptr(3), HealthStrict: true,
			Syslog: SyslogTarget{Network: "unixgram", Address: "/dev/log"}},
		Throttling: throttle.ModeOff,
		Throttle:   ThrottleVars{SoftBytes: ptr(throttle.ByteSize(10 << 20)), EnforceLoginDelay: ptr(true)},
		UIDL:       UIDLVars{LearnFrom: []string{"legacy", "secure"}, Budget: ptr(200), BudgetTime: ptr(time.Second), Recheck: ptr(2 * time.Minute), Disable: true},
		Poison:     PoisonVars{PoisonLimit: 5, PoisonAction: "skip"},
	}
	got := c
	got.ProxyProtocolFrom, got.Backends, got.setVars = nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	wantNets := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"}
	if s := c.ProxyProtocolFrom.String(); s != strings.Join(wantNets, ",") {
		t.Errorf("ProxyProtocolFrom = %s", s)
	}
	if s := c.Backends.String(); s != "legacy=pop3://127.0.0.1:11110?max_sessions=40&proxy_protocol=v2,secure=pop3s://mail.example.org,native=maildir:///var/vmail/%u,spool=mbox:///var/mail/%u" {
		t.Errorf("Backends = %s", s)
	}
	if p := c.Backends[2].URL.Path; p != "/var/vmail/%u" {
		t.Errorf("maildir path = %q", p)
	}
	if q := c.Backends[0].URL.Query().Get("max_sessions"); q != "40" {
		t.Errorf("max_sessions = %q", q)
	}
	if c.Backends[0].Native() || !c.Backends[3].Native() {
		t.Error("Native() is wrong")
	}
}

func TestSetButEmptyMeansDefault(t *testing.T) {
	c := mustLoad(t, "LISTEN=", "LOG_FORMAT=", "IDLE_TIMEOUT=")
	if c.Listen != "127.0.0.1:1110" || c.LogFormat != LogJSON || c.IdleTimeout != nil {
		t.Errorf("got %q %q %v", c.Listen, c.LogFormat, c.IdleTimeout)
	}
}

func TestListenOff(t *testing.T) {
	c := mustLoad(t, "LISTEN=off", "LISTEN_TLS=127.0.0.1:0", "TLS_CERT=c", "TLS_KEY=k")
	if c.Listen.Enabled() || c.Listen.String() != "off" || c.ListenTLS != "127.0.0.1:0" {
		t.Errorf("got %q %q", c.Listen, c.ListenTLS)
	}
}

func TestSingleBackendIsTheDefault(t *testing.T) {
	c := mustLoad(t, "BACKENDS=legacy=pop3://127.0.0.1:110")
	if c.DefaultBackend != "legacy" {
		t.Errorf("DefaultBackend = %q", c.DefaultBackend)
	}
	if c.UsesEmbeddedDefault() {
		t.Error("UsesEmbeddedDefault with a configured backend")
	}
}

func TestOwnUsersFileIsNotTheEmbeddedDefault(t *testing.T) {
	if c := mustLoad(t, "USERS_FILE=/etc/popgate/users"); c.UsesEmbeddedDefault() {
		t.Error("UsesEmbeddedDefault with a configured users file")
	}
}

func TestDataDirDrivesDefaults(t *testing.T) {
	c := mustLoad(t, "DATA_DIR=/srv/pg")
	if c.Store.String() != "bolt:///srv/pg" || c.UsersFile != "/srv/pg/users" {
		t.Errorf("store %v users %q", c.Store, c.UsersFile)
	}
	if got := RedactURL(c.Backends[0].URL); got != "maildir:///srv/pg/mail/%u/Maildir" {
		t.Errorf("native = %q", got)
	}
	if !c.UsesEmbeddedDefault() {
		t.Error("UsesEmbeddedDefault is false without POPGATE_BACKENDS")
	}
}

// Every unparsable value is reported under its variable's name.
func TestInvalidValueNamesItsVariable(t *testing.T) {
	cases := []struct{ name, value, wantText string }{
		{"LISTEN", "127.0.0.1", "host:port"},
		{"LISTEN", "127.0.0.1:99999", "port"},
		{"LISTEN_TLS", "nope", "host:port"},
		{"ADMIN_LISTEN", ":x", "port"},
		{"REQUIRE_TLS", "perhaps", "perhaps"},
		{"PROXY_PROTOCOL_FROM", "10.0.0.0/33", "10.0.0.0/33"},
		{"PROXY_PROTOCOL_FROM", "10.0.0.0/8,not-an-ip", "not-an-ip"},
		{"BACKENDS", "legacy", "name=URL"},
		{"BACKENDS", "=pop3://h", "name=URL"},
		{"BACKENDS", "a b=pop3://h", "backend name"},
		{"BACKENDS", "a=imap://h", "unknown scheme"},
		{"BACKENDS", "a=//h", "no scheme"},
		{"BACKENDS", "a=pop3://", "needs a host"},
		{"BACKENDS", "a=pop3:opaque", "needs a host"},
		{"BACKENDS", "a=maildir://", "needs a path"},
		{"BACKENDS", "a=mbox:relative", "must start with mbox://"},
		{"BACKENDS", "a=pop3://h,a=pop3://i", "defined twice"},
		{"BACKENDS", "a=pop3://[::1", "invalid URL"},
		{"STORE", "sqlite://x", "unknown store"},
		{"STORE", "/var/lib/x", "bolt://DIR"},
		{"STORE", "bolt://", "needs a location"},
		{"LOG_FORMAT", "xml", "json or console"},
		{"LOG_LEVEL", "loud", "loud"},
		{"IDLE_TIMEOUT", "ten minutes", "ten minutes"},
		{"DRAIN_TIMEOUT", "30", "30"},
		{"AUTH_FAIL_DELAY", "2x", "2x"},
		{"UIDL_BUDGET", "many", "many"},
		{"UIDL_BUDGET_TIME", "1", "1"},
		{"UIDL_RECHECK", "often", "often"},
		{"UIDL_DISABLE", "nah", "nah"},
		{"THROTTLE", "maybe", "maybe"},
		{"THROTTLE_SOFT_BYTES", "huge", "huge"},
		{"THROTTLE_MAX_DELAY", "1", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := load(t, tc.name+"="+tc.value)
			l := problems(t, err)
			if len(l) != 1 || l[0].Var != Prefix+tc.name || !strings.Contains(l[0].Error(), tc.wantText) {
				t.Fatalf("got %q; want one problem for %s mentioning %q", err, Prefix+tc.name, tc.wantText)
			}
		})
	}
}

func TestAllParseErrorsAtOnce(t *testing.T) {
	_, err := load(t, "LISTEN=x", "LOG_FORMAT=xml", "IDLE_TIMEOUT=soon")
	got := vars(problems(t, err))
	want := []string{"POPGATE_LISTEN", "POPGATE_LOG_FORMAT", "POPGATE_IDLE_TIMEOUT"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestValidateNamesVariables(t *testing.T) {
	cases := []struct {
		vars     []string
		wantVars []string
		wantText string
	}{
		{[]string{"TLS_CERT=c.pem"}, []string{"POPGATE_TLS_KEY"}, "key"},
		{[]string{"TLS_KEY=k.pem"}, []string{"POPGATE_TLS_CERT"}, "certificate"},
		{[]string{"LISTEN_TLS=127.0.0.1:995"}, []string{"POPGATE_LISTEN_TLS"}, "POPGATE_TLS_CERT"},
		{[]string{"REQUIRE_TLS=true"}, []string{"POPGATE_REQUIRE_TLS"}, "certificate"},
		{[]string{"TLS_TICKET_KEY_FILE=t.key"}, []string{"POPGATE_TLS_TICKET_KEY_FILE"}, "no certificate"},
		{[]string{"TLS_CERT=c", "TLS_KEY=k", "TLS_ALT_CERT=a.pem"}, []string{"POPGATE_TLS_ALT_KEY"}, "key"},
		{[]string{"TLS_CERT=c", "TLS_KEY=k", "TLS_ALT_KEY=a.key"}, []string{"POPGATE_TLS_ALT_CERT"}, "certificate"},
		{[]string{"TLS_ALT_CERT=a.pem", "TLS_ALT_KEY=a.key"}, []string{"POPGATE_TLS_ALT_CERT"}, "needs the first"},
		{[]string{"LISTEN=off"}, []string{"POPGATE_LISTEN"}, "nothing to serve"},
		{[]string{"DEFAULT_BACKEND=legacy"}, []string{"POPGATE_DEFAULT_BACKEND"}, `"legacy"`},
		{[]string{"BACKENDS=a=pop3://h,b=pop3://i"}, []string{"POPGATE_DEFAULT_BACKEND"}, "several backends"},
		{[]string{"STORE=redis://:6379/0"}, []string{"POPGATE_STORE"}, "HOST:PORT"},
		{[]string{"IDLE_TIMEOUT=9m59s"}, []string{"POPGATE_IDLE_TIMEOUT"}, "RFC 1939"},
		{[]string{"DRAIN_TIMEOUT=-1s"}, []string{"POPGATE_DRAIN_TIMEOUT"}, "negative"},
		{[]string{"AUTH_FAIL_DELAY=-1s"}, []string{"POPGATE_AUTH_FAIL_DELAY"}, "negative"},
		{[]string{"LOGIN_TIMEOUT=-1s", "MAX_PRELOGIN_PER_ADDRESS=-2"}, []string{"POPGATE_LOGIN_TIMEOUT", "POPGATE_MAX_PRELOGIN_PER_ADDRESS"}, "negative"},
		{[]string{"HOSTNAME=pop example"}, []string{"POPGATE_HOSTNAME"}, "plain host name"},
		{[]string{"HOSTNAME=a>b"}, []string{"POPGATE_HOSTNAME"}, "plain host name"},
		{[]string{"UIDL_LEARN_FROM=nosuch"}, []string{"POPGATE_UIDL_LEARN_FROM"}, "not a configured backend"},
		{[]string{"UIDL_LEARN_FROM=native"}, []string{"POPGATE_UIDL_LEARN_FROM"}, "not a pop3://"},
		{[]string{"UIDL_BUDGET=-1"}, []string{"POPGATE_UIDL_BUDGET"}, "negative"},
		{[]string{"HEALTH_FAILURES=0"}, []string{"POPGATE_HEALTH_FAILURES"}, "at least 1"},
		{[]string{"THROTTLE_MAX_LEVEL=0"}, []string{"POPGATE_THROTTLE_MAX_LEVEL"}, "at least 1"},
		{[]string{"THROTTLE_AUTH_FAIL_MAX_DELAY=10ms"}, []string{"POPGATE_THROTTLE_AUTH_FAIL_MAX_DELAY"}, "below"},
		{[]string{"POISON_LIMIT=-1"}, []string{"POPGATE_POISON_LIMIT"}, "negative"},
		{[]string{"POISON_ACTION=delete"}, []string{"POPGATE_POISON_ACTION"}, "skip or replace"},
		{
			[]string{"TLS_CERT=c", "LISTEN_TLS=127.0.0.1:995", "IDLE_TIMEOUT=1m", "DEFAULT_BACKEND=x"},
			[]string{"POPGATE_TLS_KEY", "POPGATE_DEFAULT_BACKEND", "POPGATE_IDLE_TIMEOUT"},
			"",
		},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.vars, " "), func(t *testing.T) {
			_, err := load(t, tc.vars...)
			l := problems(t, err)
			if got := vars(l); !reflect.DeepEqual(got, tc.wantVars) {
				t.Fatalf("got %v (%v), want %v", got, err, tc.wantVars)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("%q does not mention %q", err, tc.wantText)
			}
		})
	}
}

func TestDefaultBackendMayBeEmptyWithRoutes(t *testing.T) {
	mustLoad(t, "BACKENDS=a=pop3://h,b=pop3://i", "ROUTES=/etc/popgate/routes")
}

func TestRedaction(t *testing.T) {
	c := mustLoad(t,
		"BACKENDS=legacy=pop3://svc:s3cret@127.0.0.1:110?password=hunter2&max_sessions=4,plain=pop3://bob@h",
		"DEFAULT_BACKEND=legacy",
		"STORE=bolt:///x",
	)
	out := c.String()
	for _, secret := range []string{"s3cret", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("output shows %q:\n%s", secret, out)
		}
	}
	for _, keep := range []string{"svc:xxxxx@127.0.0.1:110", "max_sessions=4", "password=xxxxx", "plain=pop3://bob@h"} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lacks %q:\n%s", keep, out)
		}
	}
	// Redaction must not touch the URL the backends are built from.
	if p, _ := c.Backends[0].URL.User.Password(); p != "s3cret" {
		t.Errorf("password in the config changed to %q", p)
	}
	if s := (StoreURL{Scheme: StoreRedis, Location: "u:pw@h:6379/0"}).String(); s != "redis://u:xxxxx@h:6379/0" {
		t.Errorf("redis store prints as %q", s)
	}
	if s := (StoreURL{Scheme: StoreRediss, Location: "u:pw@h:6379/0"}).String(); s != "rediss://u:xxxxx@h:6379/0" {
		t.Errorf("rediss store prints as %q", s)
	}
}

func TestStringListsEveryVariable(t *testing.T) {
	c := mustLoad(t)
	out := c.String()
	for _, key := range fieldKeys(reflect.TypeFor[Config](), Prefix) {
		if !strings.Contains(out, "\n"+key+"=") && !strings.HasPrefix(out, key+"=") {
			t.Errorf("String() lacks %s:\n%s", key, out)
		}
	}
}

// Parse errors are attributed to variables by struct field name, so the
// names must not repeat across nested structs (such as Throttle).
func TestFieldNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for f := range typ.Fields() {
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
				walk(f.Type)
				continue
			}
			if seen[f.Name] {
				t.Errorf("field name %s is used twice", f.Name)
			}
			seen[f.Name] = true
		}
	}
	walk(reflect.TypeFor[Config]())
}

func problems(t *testing.T, err error) ErrorList {
	t.Helper()
	var l ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	}
	return l
}

func vars(l ErrorList) []string {
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.Var
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// max_sessions belongs to every kind of backend, so config reads it.
func TestSessionLimits(t *testing.T) {
	c := mustLoad(t, "BACKENDS=old=pop3://127.0.0.1:110?max_sessions=4,new=maildir:///srv/%u?max_sessions=0,spool=mbox:///var/mail/%u?max_sessions=2",
		"DEFAULT_BACKEND=new")
	if got, want := c.SessionLimits(), map[string]int{"old": 4, "spool": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("SessionLimits = %v, want %v", got, want)
	}
	for _, v := range []string{"lots", "-1"} {
		_, err := load(t, "BACKENDS=old=pop3://127.0.0.1:110?max_sessions="+v)
		if l := problems(t, err); len(l) != 1 || l[0].Var != "POPGATE_BACKENDS" || !strings.Contains(l[0].Error(), "max_sessions") {
			t.Errorf("max_sessions=%s: %v", v, err)
		}
	}
}

// Each POPGATE_THROTTLE_* variable sets the throttle.Config field of the
// same name, and unset ones keep throttle's defaults.
func TestThrottleVarsSetTheirFields(t *testing.T) {
	def := throttle.DefaultConfig()
	if got := mustLoad(t).ThrottleSettings(); got != def {
		t.Errorf("no variables: %+v, want throttle.DefaultConfig() %+v", got, def)
	}
	typ := reflect.TypeFor[ThrottleVars]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		cf, ok := reflect.TypeFor[throttle.Config]().FieldByName(f.Name)
		if !ok || cf.Type != f.Type.Elem() {
			t.Errorf("ThrottleVars.%s has no throttle.Config field of type %v", f.Name, f.Type.Elem())
		}
	}
	c := mustLoad(t, "THROTTLE_MAX_LEVEL=3", "THROTTLE_AUTH_FAIL_DELAY=2s", "THROTTLE_BANDWIDTH=0")
	want := def
	want.MaxLevel, want.AuthFailBaseDelay, want.Bandwidth = 3, 2*time.Second, 0
	if got := c.ThrottleSettings(); got != want {
		t.Errorf("ThrottleSettings = %+v\nwant %+v", got, want)
	}
}

// POPGATE_AUTH_FAIL_DELAY=0 means no delay, which the proxy spells with a
// negative value; unset it is the proxy's default.
func TestAuthFailDelayZeroIsNone(t *testing.T) {
	for v, want := range map[string]time.Duration{"0s": -1, "2s": 2 * time.Second} {
		if got := mustLoad(t, "AUTH_FAIL_DELAY="+v).ProxyAuthFailDelay(); got != want {
			t.Errorf("AUTH_FAIL_DELAY=%s: ProxyAuthFailDelay = %v, want %v", v, got, want)
		}
	}
}

func TestUnknownVariableNamesTheClosest(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"POPGATE_LISTN=127.0.0.1:110", "POPGATE_LISTN: unknown variable; did you mean POPGATE_LISTEN?"},
		{"POPGATE_BACKEND=legacy=pop3://127.0.0.1:110", "POPGATE_BACKEND: unknown variable; did you mean POPGATE_BACKENDS?"},
		{"POPGATE_THROTTLE_AUTH_FAIL_LIMT=3", "did you mean POPGATE_THROTTLE_AUTH_FAIL_LIMIT?"},
	} {
		_, err := Load([]string{tc.set})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.set, err, tc.want)
		}
	}
}

func TestDemoOnlyWithoutConfigurationOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		vars []string
		want bool
	}{
		{nil, true},
		{[]string{"LISTEN=127.0.0.1:0", "DATA_DIR=/tmp/pg"}, true},
		{[]string{"LISTEN=[::1]:110"}, true},
		{[]string{"LISTEN=0.0.0.0:110"}, false},
		{[]string{"LISTEN=:110"}, false},
		{[]string{"LOG_LEVEL=debug"}, false},
		{[]string{"USERS_FILE=/etc/popgate/users"}, false},
	} {
		c := mustLoad(t, tc.vars...)
		if got := c.UsesEmbeddedDefault(); got != tc.want {
			t.Errorf("%v: UsesEmbeddedDefault = %v, want %v", tc.vars, got, tc.want)
		}
	}
}

func TestNativePathWithTwoSlashesIsRefused(t *testing.T) {
	_, err := Parse([]string{"POPGATE_BACKENDS=native=mbox://var/mail/%u"})
	if err == nil || !strings.Contains(err.Error(), "POPGATE_BACKENDS") || !strings.Contains(err.Error(), "write mbox:///var/mail/%u") {
		t.Errorf("mbox://var/mail/%%u: %v, want a POPGATE_BACKENDS error suggesting mbox:///var/mail/%%u", err)
	}
	for raw, path := range map[string]string{"mbox:///var/mail/%u": "/var/mail/%u", "maildir://./mail/%u": "./mail/%u", "maildir://../m/%u": "../m/%u"} {
		u, err := ParseBackendURL(raw)
		if err != nil || u.Path != path || u.Host != "" {
			t.Errorf("ParseBackendURL(%s) = %v, %v; want path %s", raw, u, err, path)
		}
	}
}
