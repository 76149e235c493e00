package upstream

import (
	"testing"

	"go.uber.org/goleak"
)

// Every exchange arms a context watcher and every fake server runs
// goroutines: none may outlive its test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
