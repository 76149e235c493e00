package upstream

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFromURL(t *testing.T) {
	for _, tc := range []struct {
		url   string
		check func(t *testing.T, o Options)
	}{
		{"pop3://mail.example.org", func(t *testing.T, o Options) {
			if o.Addr != "mail.example.org:110" || o.TLS || o.STLS || o.ProxyProtocol || o.TLSConfig != nil || o.DelayedACK {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3s://mail.example.org", func(t *testing.T, o Options) {
			if o.Addr != "mail.example.org:995" || !o.TLS {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3://[::1]:11110/?max_sessions=40&proxy_protocol=v2&dial_timeout=5s&timeout=90s", func(t *testing.T, o Options) {
			if o.Addr != "[::1]:11110" || !o.ProxyProtocol ||
				o.DialTimeout != 5*time.Second || o.CommandTimeout != 90*time.Second {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3://127.0.0.1:110?quickack=false", func(t *testing.T, o Options) {
			if !o.DelayedACK {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3://127.0.0.1:110?quickack=true", func(t *testing.T, o Options) {
			if o.DelayedACK {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3://127.0.0.1:110?apop=true", func(t *testing.T, o Options) {
			if !o.APOP {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3://127.0.0.1:110?starttls=true&tls_verify=false", func(t *testing.T, o Options) {
			if !o.STLS || o.TLSConfig == nil || !o.TLSConfig.InsecureSkipVerify {
				t.Errorf("got %+v", o)
			}
		}},
		{"pop3s://10.0.0.5?server_name=mail.example.org", func(t *testing.T, o Options) {
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "mail.example.org" || o.TLSConfig.InsecureSkipVerify {
				t.Errorf("got %+v", o)
			}
			if cfg := o.tlsConfig(); cfg.ServerName != "mail.example.org" {
				t.Errorf("tlsConfig ServerName = %q", cfg.ServerName)
			}
		}},
		{"pop3://127.0.0.1", func(t *testing.T, o Options) {
			if o.PoolSize != DefaultPoolSize || o.poolMaxAge() != DefaultPoolMaxAge {
				t.Errorf("default pool %d, max age %v", o.PoolSize, o.poolMaxAge())
			}
		}},
		{"pop3://127.0.0.1?pool=0", func(t *testing.T, o Options) {
			if o.PoolSize != 0 {
				t.Errorf("pool=0 gave %d", o.PoolSize)
			}
		}},
		{"pop3://127.0.0.1?pool=2&pool_max_age=45s", func(t *testing.T, o Options) {
			if o.PoolSize != 2 || o.PoolMaxAge != 45*time.Second {
				t.Errorf("got pool %d, max age %v", o.PoolSize, o.PoolMaxAge)
			}
		}},
		{"pop3://127.0.0.1?proxy_protocol=v2", func(t *testing.T, o Options) {
			if o.PoolSize != 0 {
				t.Errorf("proxy_protocol=v2 kept a pool of %d by default", o.PoolSize)
			}
		}},
		{"pop3://127.0.0.1?proxy_protocol=v2&pool=0", func(t *testing.T, o Options) {
			if o.PoolSize != 0 || !o.ProxyProtocol {
				t.Errorf("got %+v", o)
			}
		}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			o, err := FromURL("legacy", u)
			if err != nil {
				t.Fatalf("FromURL: %v", err)
			}
			if o.Name != "legacy" {
				t.Errorf("Name = %q", o.Name)
			}
			tc.check(t, o)
		})
	}
}

func TestFromURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, mention string }{
		{"imap://host", "scheme"},
		{"pop3://", "host"},
		{"pop3://host:0", "port"},
		{"pop3://host:99999", "port"},
		{"pop3://user:pw@host", "credentials"},
		{"pop3://host/INBOX", "host"},
		{"pop3://host?bogus=1", "bogus"},
		{"pop3://host?proxy_protocol=v1", "proxy_protocol"},
		{"pop3://host?apop=maybe", "apop"},
		{"pop3://host?quickack=sometimes", "quickack"},
		{"pop3://host?dial_timeout=5", "dial_timeout"},
		{"pop3://host?timeout=-1s", "timeout"},
		{"pop3://host?starttls=maybe", "starttls"},
		{"pop3s://host?starttls=true", "starttls"},
		{"pop3://host?tls_verify=false", "tls_verify"},
		{"pop3s://host?tls_verify=nah", "tls_verify"},
		{"pop3://host?timeout=1s&timeout=2s", "timeout"},
		{"pop3://host?pool=-1", "pool"},
		{"pop3://host?pool=many", "pool"},
		{"pop3://host?pool=65", "pool"},
		{"pop3://host?pool_max_age=0s", "pool_max_age"},
		{"pop3://host?pool_max_age=30", "pool_max_age"},
		{"pop3://host?pool=2&proxy_protocol=v2", "proxy_protocol"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromURL("legacy", u)
		if err == nil {
			t.Errorf("FromURL(%q) succeeded", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "legacy") {
			t.Errorf("FromURL(%q) = %q, want it to name %q and the backend", tc.url, err, tc.mention)
		}
	}
}

func TestTLSConfigDefaults(t *testing.T) {
	o := Options{Addr: "mail.example.org:995"}
	if cfg := o.tlsConfig(); cfg.ServerName != "mail.example.org" || cfg.InsecureSkipVerify {
		t.Errorf("default config: ServerName %q skip %v", cfg.ServerName, cfg.InsecureSkipVerify)
	}
	if o.dialTimeout() != DefaultDialTimeout || o.commandTimeout() != DefaultCommandTimeout {
		t.Errorf("zero timeouts do not default")
	}
}
