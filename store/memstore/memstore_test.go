package memstore_test

import (
	"testing"

	"github.com/popgate/popgate/store"
	"github.com/popgate/popgate/store/memstore"
	"github.com/popgate/popgate/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.UIDLStore { return memstore.New() }, nil)
	storetest.RunBreaks(t, func(t *testing.T) store.BreakStore { return memstore.New() }, nil)
}
