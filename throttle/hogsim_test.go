package throttle

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The hog simulation replays the scenario in virtual time, with
// the package's own policy, queue and limits, so its numbers are exact and
// reproducible: a backend of simSlots sessions; 50 normal users with small
// maildrops who poll on exponential timers; hogs with huge maildrops who
// poll again soon after each session. A session holds its backend slot for
// a time proportional to the maildrop (the legacy server rescans it). The
// model leaves out that hogs also slow the machine itself, so it shows what
// admission alone buys.
const (
	normalSize    = 5 << 20
	hogSize       = 800 << 20
	normalService = time.Second
	hogService    = 20 * time.Second
	normalThink   = 30 * time.Second // mean
	hogThink      = 10 * time.Second
)

// simResult holds the session latencies (poll start to session end) of
// each class, the logins refused after the queue timeout, and the hogs'
// polls refused with [LOGIN-DELAY].
type simResult struct {
	normal, hog               []time.Duration
	normalRefused, hogRefused int
	tooSoon                   int
}

type simEvent struct {
	at   time.Time
	seq  int
	kind int // evPoll, evAdmit, evEnd, evTimeout
	u    *simUser
	w    *waiter // evTimeout: the waiter it may expire
}

const (
	evPoll = iota
	evAdmit
	evEnd
	evTimeout
)

type simUser struct {
	name    string
	hog     bool
	level   int       // of the current poll
	polled  time.Time // when the current poll started
	waiting *waiter
}

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simCase is one run: normal users and hogs against a backend of slots.
type simCase struct {
	slots, normal, hogs int
	on, enforce         bool // throttling; EnforceLoginDelay
	length              time.Duration
}

// simulate runs c in virtual time.
func simulate(c simCase) simResult {
	cfg := DefaultConfig()
	if !c.on {
		cfg.Mode = ModeOff
	}
	cfg.EnforceLoginDelay = c.enforce
	state := map[string]UserState{}
	s := &slots{max: c.slots}
	rng := rand.New(rand.NewPCG(1, 2))
	var (
		res    simResult
		events simQueue
		seq    int
		now    = epoch
		end    = epoch.Add(c.length)
	)
	at := func(t time.Time, kind int, u *simUser, w *waiter) {
		seq++
		heap.Push(&events, &simEvent{at: t, seq: seq, kind: kind, u: u, w: w})
	}
	think := func(u *simUser) time.Duration {
		if u.hog {
			return hogThink
		}
		return time.Duration(rng.ExpFloat64() * float64(normalThink))
	}
	size := func(u *simUser) int64 {
		if u.hog {
			return hogSize
		}
		return normalSize
	}
	start := func(u *simUser) {
		service := normalService
		if u.hog {
			service = hogService
		}
		state[u.name] = UserState{LastLogin: now, Msgs: 100, Bytes: size(u)}
		at(now.Add(service), evEnd, u, nil)
	}
	// startGranted starts every queued user whose waiter was just granted.
	var users []*simUser
	startGranted := func() {
		for _, u := range users {
			if u.waiting != nil && u.waiting.granted {
				u.waiting = nil
				start(u)
			}
		}
	}
	for i := range c.normal + c.hogs {
		u := &simUser{name: fmt.Sprintf("user%d", i), hog: i >= c.normal}
		users = append(users, u)
		at(now.Add(time.Duration(rng.ExpFloat64()*float64(normalThink))), evPoll, u, nil)
	}
	for events.Len() > 0 {
		e := heap.Pop(&events).(*simEvent)
		now = e.at
		u := e.u
		switch e.kind {
		case evPoll:
			if now.After(end) {
				continue
			}
			u.polled, u.level = now, 0
			if st, ok := state[u.name]; ok && c.on {
				u.level = cfg.level(st.Msgs, st.Bytes, sinceLogin(now, st))
			}
			if u.level > 0 && cfg.EnforceLoginDelay {
				res.tooSoon++
				at(now.Add(think(u)), evPoll, u, nil)
				continue
			}
			at(now.Add(cfg.loginDelay(u.level)), evAdmit, u, nil)
		case evAdmit:
			w, ok := s.tryAcquire(u.level)
			if ok {
				start(u)
				continue
			}
			u.waiting = w
			at(now.Add(cfg.QueueTimeout), evTimeout, u, w)
		case evTimeout:
			if u.waiting != e.w {
				continue // granted meanwhile
			}
			u.waiting = nil
			s.abandon(e.w)
			startGranted()
			if u.hog {
				res.hogRefused++
			} else {
				res.normalRefused++
			}
			at(now.Add(think(u)), evPoll, u, nil)
		case evEnd:
			s.release(u.level)
			startGranted()
			if u.hog {
				res.hog = append(res.hog, now.Sub(u.polled))
			} else {
				res.normal = append(res.normal, now.Sub(u.polled))
			}
			at(now.Add(think(u)), evPoll, u, nil)
		}
	}
	return res
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// TestHogsDoNotSlowNormalUsers checks the policy against the issue's
// scenario in the model. The target, normal users' p99 within 1.2
// times their no-hog p99, holds with EnforceLoginDelay; with delays alone
// a hog's 20-second session still holds one of the four slots most of the
// time, so the test asks for most of the damage undone (docs/benchmarks.md
// has the numbers).
func TestHogsDoNotSlowNormalUsers(t *testing.T) {
	const length = 2 * time.Hour
	run := func(hogs int, on, enforce bool) simResult {
		return simulate(simCase{slots: 4, normal: 50, hogs: hogs, on: on, enforce: enforce, length: length})
	}
	base, off, on, enforce := run(0, true, false), run(3, false, false), run(3, true, false), run(3, true, true)
	b99 := percentile(base.normal, 99)
	off99, on99, enf99 := percentile(off.normal, 99), percentile(on.normal, 99), percentile(enforce.normal, 99)
	t.Logf("normal p99: no hogs %s; 3 hogs: unthrottled %s, delayed %s, LOGIN-DELAY enforced %s", b99, off99, on99, enf99)
	if off99 <= b99*12/10 {
		t.Fatalf("unthrottled hogs do not hurt normal users in the model (p99 %s vs %s): it tests nothing", off99, b99)
	}
	if on99-b99 > (off99-b99)/3 {
		t.Errorf("delayed hogs: normal p99 %s keeps over a third of the unthrottled damage (%s, baseline %s)", on99, off99, b99)
	}
	if enf99 > b99*12/10 {
		t.Errorf("LOGIN-DELAY enforced: normal p99 %s, over 1.2 × the no-hog %s", enf99, b99)
	}
	if p50, b50 := percentile(on.normal, 50), percentile(base.normal, 50); p50 > b50*12/10 {
		t.Errorf("delayed hogs: normal p50 %s, over 1.2 × the no-hog %s", p50, b50)
	}
	if h, hOff := percentile(on.hog, 50), percentile(off.hog, 50); h <= hOff {
		t.Errorf("hog p50 %s throttled vs %s unthrottled: hogs should be slower", h, hOff)
	}
	if enforce.tooSoon == 0 || len(enforce.hog) == 0 {
		t.Errorf("LOGIN-DELAY enforced: %d refusals, %d hog sessions; want both", enforce.tooSoon, len(enforce.hog))
	}
	for name, r := range map[string]simResult{"delayed": on, "enforced": enforce} {
		if r.normalRefused != 0 {
			t.Errorf("%s: %d normal logins timed out in the queue", name, r.normalRefused)
		}
	}
}

// BenchmarkHogs reports the model's latencies for the cases of
// docs/benchmarks.md over 24 virtual hours.
func BenchmarkHogs(b *testing.B) {
	for _, bc := range []struct {
		name        string
		hogs        int
		on, enforce bool
	}{
		{"hogs=0/throttle=off", 0, false, false},
		{"hogs=0/throttle=on", 0, true, false},
		{"hogs=3/throttle=off", 3, false, false},
		{"hogs=3/throttle=on", 3, true, false},
		{"hogs=3/throttle=enforce", 3, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var r simResult
			for range b.N {
				r = simulate(simCase{slots: 4, normal: 50, hogs: bc.hogs, on: bc.on, enforce: bc.enforce, length: 24 * time.Hour})
			}
			sec := func(d time.Duration) float64 { return d.Seconds() }
			b.ReportMetric(sec(percentile(r.normal, 50)), "normal_p50_s")
			b.ReportMetric(sec(percentile(r.normal, 99)), "normal_p99_s")
			b.ReportMetric(float64(r.normalRefused), "normal_refused")
			if bc.hogs > 0 {
				b.ReportMetric(sec(percentile(r.hog, 50)), "hog_p50_s")
				b.ReportMetric(float64(len(r.hog)), "hog_sessions")
			}
		})
	}
}
