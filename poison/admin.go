package poison

import (
	"encoding/json"
	"net/http"

	"github.com/popgate/popgate/store"
)

// ShowHandler serves GET ?user=NAME with the user's store.Breaks as JSON,
// for the admin listener.
func ShowHandler(st store.BreakStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			http.Error(w, "missing user parameter", http.StatusBadRequest)
			return
		}
		b, err := st.Breaks(r.Context(), user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// An encoding error means the client went away; nothing to do.
		_ = json.NewEncoder(w).Encode(b)
	})
}

// ReleaseHandler serves POST ?user=NAME&uidl=UIDL: the message is no
// longer held, and its count of broken transfers starts again. It answers
// 404 when the message was not flagged.
func ReleaseHandler(st store.BreakStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		user, uidl := q.Get("user"), q.Get("uidl")
		if user == "" || uidl == "" {
			http.Error(w, "missing user or uidl parameter", http.StatusBadRequest)
			return
		}
		found, err := Release(r.Context(), st, user, uidl)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !found:
			http.Error(w, "no poison message "+uidl+" for "+user, http.StatusNotFound)
		default:
			w.Write([]byte("released\n"))
		}
	})
}
