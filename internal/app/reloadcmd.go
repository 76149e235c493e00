package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/popgate/popgate/config"
)

// reloadHandler runs a reload for "popgate reload" and answers when it is
// done: 200, or 500 with the reason it failed.
func reloadHandler(r *reloader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := r.reload("popgate reload"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "reloaded")
	})
}

// reloadCommand runs "popgate reload": it asks the running server, through
// its admin listener, to reload, and waits for the outcome, so that the
// unit's ExecReload, and with it "systemctl reload", fails when the reload
// failed. Exit status 0 if it succeeded, 1 if not.
func reloadCommand(ctx context.Context, environ []string, stdout, stderr io.Writer) int {
	// The server's own settings: what a reload would read is the server's
	// business, and a broken new file must not stop us asking.
	cfg, err := config.Parse(environ)
	if err != nil {
		printProblems(stderr, err)
		return exitUsage
	}
	if !cfg.AdminListen.Enabled() {
		fmt.Fprintln(stderr, "popgate: reload asks the server's admin listener, and POPGATE_ADMIN_LISTEN is off; send SIGHUP instead")
		return exitUsage
	}
	url := "http://" + dialable(string(cfg.AdminListen)) + "/reload"
	code, body, err := adminCall(ctx, http.MethodPost, url, 60*time.Second)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "popgate: %v\n", err)
		return exitFailure
	case code != http.StatusOK:
		fmt.Fprintf(stderr, "popgate: reload failed, the previous configuration stays in force:\n%s\n", bytes.TrimSpace(body))
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s", body)
	return exitOK
}

// adminCall makes one request to the running server's admin listener and
// returns the status code and (the start of) the body.
func adminCall(ctx context.Context, method, url string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("is the server running? %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
