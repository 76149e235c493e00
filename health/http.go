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
	// Unhealthy names the backends that are down or have not been checked.
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Store is the state store's last check, when one is watched.
	Store *Status `json:"store,omitempty"`
	// Degraded names what works less well than it should: "store" while
	// the store is unreachable, and each unhealthy backend.
	Degraded []string `json:"degraded,omitempty"`
	// Strict is true when an unhealthy backend makes the instance unready.
	Strict bool `json:"strict,omitempty"`
}

// Readyz answers "can this instance serve": 200 when listening() is true
// and the state store (if watched) answers, else 503. An unhealthy backend
// is named in the body and makes the answer 503 only with Options.Strict.
func (c *Checker) Readyz(listening func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r := readiness{Listening: listening(), Backends: c.Status(), Strict: c.o.Strict}
		storeOK := true
		if st, ok := c.StoreStatus(); ok {
			r.Store = &st
			if storeOK = st.Healthy; !storeOK {
				r.Degraded = append(r.Degraded, storeName)
			}
		}
		for _, s := range r.Backends {
			if !s.Healthy {
				r.Unhealthy = append(r.Unhealthy, s.Backend)
			}
		}
		r.Degraded = append(r.Degraded, r.Unhealthy...)
		r.Ready = r.Listening && storeOK && (!c.o.Strict || len(r.Unhealthy) == 0)
		w.Header().Set("Content-Type", "application/json")
		if !r.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		// An encoding error means the client went away.
		_ = json.NewEncoder(w).Encode(r)
	})
}
