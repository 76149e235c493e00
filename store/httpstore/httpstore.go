// Package httpstore lets a command reach the UIDL map of a running popgate
// through its admin listener. bbolt lets one process open its file; the
// serving process exports its store under /store/ with Handler, and
// "popgate uidl import|show|verify" use a Client, which is a
// store.UIDLStore like the file itself.
package httpstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/popgate/popgate/store"
)

// Prefix is the path under which Handler serves.
const Prefix = "/store/"

// maxBody bounds a request body: the listing of a very large maildrop.
const maxBody = 256 << 20

type pairsUpdate struct {
	Put  map[string]store.Pair `json:"put"`
	Drop []string              `json:"drop"`
}

// Handler serves st: GET and PUT legacy?user=, GET and POST
// pairs?user=&backend=, GET users. Mount it at Prefix.
func Handler(st store.UIDLStore) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"legacy", func(w http.ResponseWriter, r *http.Request) {
		es, err := st.Legacy(r.Context(), r.URL.Query().Get("user"))
		reply(w, es, err)
	})
	mux.HandleFunc("PUT "+Prefix+"legacy", func(w http.ResponseWriter, r *http.Request) {
		var es []store.Entry
		if !decode(w, r, &es) {
			return
		}
		reply(w, struct{}{}, st.SetLegacy(r.Context(), r.URL.Query().Get("user"), es))
	})
	mux.HandleFunc("GET "+Prefix+"pairs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ps, err := st.Pairs(r.Context(), q.Get("user"), q.Get("backend"))
		reply(w, ps, err)
	})
	mux.HandleFunc("POST "+Prefix+"pairs", func(w http.ResponseWriter, r *http.Request) {
		var u pairsUpdate
		if !decode(w, r, &u) {
			return
		}
		q := r.URL.Query()
		reply(w, struct{}{}, st.UpdatePairs(r.Context(), q.Get("user"), q.Get("backend"), u.Put, u.Drop))
	})
	mux.HandleFunc("GET "+Prefix+"users", func(w http.ResponseWriter, r *http.Request) {
		us, err := st.Users(r.Context())
		reply(w, us, err)
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// An encoding error means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}

// Client is a store.UIDLStore served by a running popgate.
type Client struct {
	base string // http://HOST:PORT
	hc   *http.Client
}

var _ store.UIDLStore = (*Client)(nil)

// Dial returns a Client for the admin listener at addr (HOST:PORT) if a
// popgate answers there with its store.
func Dial(ctx context.Context, addr string) (*Client, error) {
	c := &Client{base: "http://" + addr, hc: &http.Client{Timeout: 5 * time.Minute}}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.Users(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := c.base + Prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("uidl store of the running server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("uidl store of the running server: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Legacy implements store.UIDLStore.
func (c *Client) Legacy(ctx context.Context, user string) ([]store.Entry, error) {
	var es []store.Entry
	err := c.call(ctx, http.MethodGet, "legacy", url.Values{"user": {user}}, nil, &es)
	return es, err
}

// SetLegacy implements store.UIDLStore.
func (c *Client) SetLegacy(ctx context.Context, user string, present []store.Entry) error {
	if present == nil {
		present = []store.Entry{}
	}
	return c.call(ctx, http.MethodPut, "legacy", url.Values{"user": {user}}, present, &struct{}{})
}

// Pairs implements store.UIDLStore.
func (c *Client) Pairs(ctx context.Context, user, backend string) (map[string]store.Pair, error) {
	ps := map[string]store.Pair{}
	err := c.call(ctx, http.MethodGet, "pairs", url.Values{"user": {user}, "backend": {backend}}, nil, &ps)
	return ps, err
}

// UpdatePairs implements store.UIDLStore.
func (c *Client) UpdatePairs(ctx context.Context, user, backend string, put map[string]store.Pair, drop []string) error {
	return c.call(ctx, http.MethodPost, "pairs", url.Values{"user": {user}, "backend": {backend}},
		pairsUpdate{Put: put, Drop: drop}, &struct{}{})
}

// Users implements store.UIDLStore.
func (c *Client) Users(ctx context.Context) ([]string, error) {
	var us []string
	err := c.call(ctx, http.MethodGet, "users", nil, nil, &us)
	return us, err
}

// Close implements store.UIDLStore; the server's store stays open.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}
