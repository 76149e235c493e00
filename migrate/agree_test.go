package migrate

import (
	"bytes"
	"os"
	"testing"

	"github.com/popgate/popgate/backend/mbox"
	"github.com/popgate/popgate/uidl"
)

// TestImportAgreesWithNativeBackend: for the shared fixtures, the UIDL an
// import records under popa3d and xuidl is the one the native backend
// serves under the same scheme, message by message (before the backend
// renames duplicates). Under xuidl a message without a stored X-UIDL has
// no legacy UIDL, while the backend serves its native one.
func TestImportAgreesWithNativeBackend(t *testing.T) {
	for _, name := range []string{"../uidl/testdata/test.mbox", "../uidl/testdata/edge.mbox"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var imported []spoolMsg
		if err := scanSpool(bytes.NewReader(data), nil, func(m spoolMsg) error {
			imported = append(imported, m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, scheme := range []uidl.Scheme{uidl.Popa3d, uidl.XUIDL} {
			served, err := mbox.Parse(bytes.NewReader(data), 0, mbox.Config{Scheme: scheme})
			if err != nil {
				t.Fatal(err)
			}
			if len(served.Msgs) != len(imported) {
				t.Fatalf("%s %s: backend %d messages, import %d", name, scheme, len(served.Msgs), len(imported))
			}
			for i, m := range imported {
				got, err := scheme.LegacyUIDL(m.IDs)
				if err != nil {
					if scheme == uidl.XUIDL && !m.IDs.HasXUIDL {
						continue
					}
					t.Errorf("%s %s msg %d: %v", name, scheme, i+1, err)
					continue
				}
				if want := served.Msgs[i].UID; got != want {
					t.Errorf("%s %s msg %d: import %q, backend %q", name, scheme, i+1, got, want)
				}
			}
		}
	}
}
