package throttle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/popgate/popgate/internal/pop3test"
	"github.com/popgate/popgate/pop3"
)

// fakeMailbox serves the same body for every message.
type fakeMailbox struct {
	body []byte
	caps []string
}

func (m *fakeMailbox) Stat(context.Context) (int, int64, error) { return 1, int64(len(m.body)), nil }
func (m *fakeMailbox) List(context.Context, int) ([]pop3.MsgInfo, error) {
	return []pop3.MsgInfo{{Num: 1, Size: int64(len(m.body))}}, nil
}
func (m *fakeMailbox) Uidl(context.Context, int) ([]pop3.MsgInfo, error) {
	return []pop3.MsgInfo{{Num: 1, UID: "a"}}, nil
}
func (m *fakeMailbox) Retr(context.Context, int) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.body)), nil
}
func (m *fakeMailbox) Top(context.Context, int, int) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.body[:len(m.body)/2])), nil
}
func (m *fakeMailbox) Dele(context.Context, int) error { return nil }
func (m *fakeMailbox) Rset(context.Context) error      { return nil }
func (m *fakeMailbox) Noop(context.Context) error      { return nil }
func (m *fakeMailbox) Update(context.Context) (pop3.UpdateResult, error) {
	return pop3.UpdateResult{}, nil
}
func (m *fakeMailbox) Close() error   { return nil }
func (m *fakeMailbox) Caps() []string { return m.caps }

var _ pop3.Capabler = (*fakeMailbox)(nil)

// readAll reads r with a large buffer, as the proxy's copy would.
func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	var out bytes.Buffer
	if _, err := io.CopyBuffer(&out, struct{ io.Reader }{r}, make([]byte, 64<<10)); err != nil {
		t.Fatalf("read: %v", err)
	}
	return out.Bytes()
}

func TestShapeLimitsThroughputInVirtualTime(t *testing.T) {
	const bps = 100 << 10
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	clock := newAutoClock()
	m := newShaped(&fakeMailbox{body: body}, bps, clock.Now, clock.Sleep, nil)
	ctx := context.Background()

	r, err := m.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); !bytes.Equal(got, body) {
		t.Fatalf("shaped RETR returned %d bytes, differing from the %d of the message", len(got), len(body))
	}
	// The bucket starts full with one burst; the rest is paid at bps.
	elapsed := clock.Now().Sub(epoch)
	want := time.Duration(float64(len(body)-m.burst) / bps * float64(time.Second))
	if elapsed < want-time.Millisecond || elapsed > want+100*time.Millisecond {
		t.Errorf("1 MiB at %d B/s took %s of virtual time, want about %s", bps, elapsed, want)
	}
	// TOP shares the session's budget: no new burst.
	before := clock.Now()
	r, _ = m.Top(ctx, 1, 10)
	half := readAll(t, r)
	wantTop := time.Duration(float64(len(half)) / bps * float64(time.Second))
	if got := clock.Now().Sub(before); got < wantTop-time.Millisecond || got > wantTop+100*time.Millisecond {
		t.Errorf("TOP of %d bytes took %s of virtual time, want about %s", len(half), got, wantTop)
	}
}

func TestShapeChunksNeverExceedTheBurst(t *testing.T) {
	clock := newAutoClock()
	m := newShaped(&fakeMailbox{body: make([]byte, 50000)}, 20000, clock.Now, clock.Sleep, nil)
	r, _ := m.Retr(context.Background(), 1)
	defer r.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > m.burst {
			t.Fatalf("one read returned %d bytes, over the burst %d", n, m.burst)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := clock.takeSleeps(); len(s) == 0 {
		t.Error("reading 50000 bytes at 20000 B/s never waited")
	}
}

func TestShapeStopsWhenTheCommandEnds(t *testing.T) {
	clock := newManualClock()
	m := newShaped(&fakeMailbox{body: make([]byte, 10000)}, 1000, clock.Now, clock.Sleep, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := m.Retr(ctx, 1)
	defer r.Close()
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := io.Copy(io.Discard, r)
		errc <- err
	}()
	pop3test.Eventually(t, "the reader waits for tokens", func() bool { return clock.sleeping() == 1 })
	cancel()
	wg.Wait()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel = %v, want context.Canceled", err)
	}
}

func TestShapedCaps(t *testing.T) {
	fm := &fakeMailbox{body: []byte("x"), caps: []string{"EXPIRE NEVER"}}
	th, clock := newTest(t, nil, Options{})
	poll(t, th, "hog", 800<<20)
	clock.Advance(time.Minute)
	tk, _ := th.AdmitUser(context.Background(), "hog", "legacy", clientA)
	tk.Opened(1, 800<<20)
	defer tk.Release()
	d := tk.Mailbox(fm)
	if got := d.(pop3.Capabler).Caps(); !slices.Equal(got, []string{"EXPIRE NEVER", "LOGIN-DELAY 300"}) {
		t.Errorf("Caps of a decorated hog mailbox = %q", got)
	}

	calm, _ := th.AdmitUser(context.Background(), "calm", "legacy", clientA)
	calm.Opened(1, 100)
	defer calm.Release()
	if _, ok := calm.Mailbox(fm).(*shaped); ok {
		t.Error("a session at level 0 was shaped")
	}
}
