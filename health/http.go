package health

import (
	"encoding/json"
	"net/http"
)

// Healthz answers 200 while the process serves HTTP at all.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// readiness is the /readyz body.
type readiness struct {
	Ready     bool     `json:"ready"`
	Listening bool     `json:"listening"`
	Backends  []Status `json:"backends"`
	// Unhealthy names the backends that failed or have not been checked.
	Unhealthy []string `json:"unhealthy,omitempty"`
}

// Readyz answers 200 when listening() is true and every backend's last
// check succeeded, else 503; the JSON body says which backends are not
// healthy, and why.
func (c *Checker) Readyz(listening func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r := readiness{Listening: listening(), Backends: c.Status()}
		for _, s := range r.Backends {
			if !s.Healthy {
				r.Unhealthy = append(r.Unhealthy, s.Backend)
			}
		}
		r.Ready = r.Listening && len(r.Unhealthy) == 0
		w.Header().Set("Content-Type", "application/json")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		// An encoding error means the client went away.
		_ = json.NewEncoder(w).Encode(r)
	})
}
