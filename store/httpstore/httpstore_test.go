package httpstore_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/httpstore"
	"github.com/popgate/popgate/store/memstore"
	"github.com/popgate/popgate/store/storetest"
)

// The client keeps the store contract, through a server over a memstore.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.UIDLStore {
		srv := httptest.NewServer(httpstore.Handler(memstore.New()))
		t.Cleanup(srv.Close)
		c, err := httpstore.Dial(context.Background(), strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}, nil)
}

func TestDialNoServer(t *testing.T) {
	srv := httptest.NewServer(nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	if _, err := httpstore.Dial(context.Background(), addr); err == nil {
		t.Fatal("Dial succeeded with nothing listening")
	}
}
