package app

import (
	"testing"

	"github.com/popgate/popgate/backend/demo"
	"github.com/popgate/popgate/config"
)

// The embedded default must serve the layout the demo seed creates.
func TestEmbeddedDefaultMatchesDemoLayout(t *testing.T) {
	for _, dir := range []string{"./popgate-data", "/var/lib/popgate", "rel/dir/"} {
		want, err := demo.BackendURL(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := config.RedactURL(config.NativeDefault(dir).URL); got != want {
			t.Errorf("data dir %q: config serves %q, demo seeds %q", dir, got, want)
		}
		if got, want := mustParse(t, dir).UsersFile, demo.UsersFilePath(dir); got != want {
			t.Errorf("data dir %q: users file %q, demo writes %q", dir, got, want)
		}
	}
}

func mustParse(t *testing.T, dataDir string) config.Config {
	t.Helper()
	c, err := config.Parse([]string{"POPGATE_DATA_DIR=" + dataDir})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
