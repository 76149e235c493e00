package session

import (
	"os"
	"strings"
	"testing"
	"time"
)

func keys(r *Record) map[string]any {
	out := map[string]any{}
	for _, f := range r.Fields() {
		switch {
		case f.String != "":
			out[f.Key] = f.String
		default:
			out[f.Key] = f.Integer
		}
	}
	return out
}

// The counters every line carries default to 0; the others appear only
// with the Reporter that fills them in.
func TestFieldsOfReporters(t *testing.T) {
	bare := keys(&Record{Result: ResultOK})
	for _, k := range []string{"uidl_mapped", "penalty", "delay_ms"} {
		if v, ok := bare[k]; !ok || v != int64(0) {
			t.Errorf("bare line: %s = %v, %v; want 0", k, v, ok)
		}
	}
	for _, k := range []string{"uidl_unmapped", "uidl_learned", "uidl_fetched", "uidl_unchanged", "throttle_reason"} {
		if _, ok := bare[k]; ok {
			t.Errorf("bare line has %s", k)
		}
	}
	full := keys(&Record{
		Mapping:    &Mapping{Mapped: 3, Unmapped: 1},
		Learning:   &Learning{Learned: 4, Fetched: 2, Unchanged: true},
		Throttling: &Throttling{Penalty: 2, Delay: 1500 * time.Millisecond, Reason: "size+queue"},
	})
	want := map[string]any{"uidl_mapped": int64(3), "uidl_unmapped": int64(1), "uidl_learned": int64(4),
		"uidl_fetched": int64(2), "uidl_unchanged": int64(1), "penalty": int64(2), "delay_ms": int64(1500),
		"throttle_reason": "size+queue"}
	for k, v := range want {
		if full[k] != v {
			t.Errorf("%s = %v, want %v", k, full[k], v)
		}
	}
}

func TestBrokenTransferFields(t *testing.T) {
	if _, ok := keys(&Record{Result: ResultOK})["broken_msg"]; ok {
		t.Error("a line without a broken transfer has broken_msg")
	}
	got := keys(&Record{RetrMsgs: 1, Broken: &BrokenTransfer{Num: 8, Bytes: 20480}})
	if got["broken_msg"] != int64(8) || got["broken_bytes"] != int64(20480) || got["retr_msgs"] != int64(1) {
		t.Errorf("fields = %v", got)
	}
}

// A key written twice is read as one by JSON decoders, losing a value.
func TestFieldKeysAreUnique(t *testing.T) {
	r := &Record{
		Err:        errTest("x"),
		Broken:     &BrokenTransfer{Num: 1},
		Mapping:    &Mapping{},
		Learning:   &Learning{Unchanged: true},
		Throttling: &Throttling{},
		Poison:     &Poison{},
		Limit:      "x",
		Pooled:     true,
	}
	seen := map[string]bool{}
	for _, f := range r.Fields() {
		if seen[f.Key] {
			t.Errorf("key %q twice", f.Key)
		}
		seen[f.Key] = true
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestWaitsAddUpToDelay(t *testing.T) {
	got := keys(&Record{AuthFailDelay: 200 * time.Millisecond, Throttling: &Throttling{
		Delay: time.Second, AuthFailDelay: 100 * time.Millisecond, QueueWait: 300 * time.Millisecond, Shaping: 50 * time.Millisecond}})
	want := map[string]int64{"wait_login_ms": 600, "wait_queue_ms": 300, "wait_auth_fail_ms": 300, "wait_shaping_ms": 50, "delay_ms": 1250}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %d", k, got[k], v)
		}
	}
}

// Every field a session line can carry is in the README's table, and the
// table names no field the line never carries.
func TestREADMEDocumentsEveryField(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## The session line\n")
	if !ok {
		t.Fatal("README has no section \"The session line\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]bool{}
	for line := range strings.Lines(section) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, f := range strings.Split(first, ",") {
			documented[strings.Trim(strings.TrimSpace(f), "`")] = true
		}
	}
	full := &Record{Err: errTest("x"), Broken: &BrokenTransfer{}, Mapping: &Mapping{},
		Learning: &Learning{Unchanged: true}, Throttling: &Throttling{}, Poison: &Poison{}, Limit: "x", Pooled: true}
	logged := map[string]bool{}
	for _, f := range full.Fields() {
		logged[f.Key] = true
		if !documented[f.Key] {
			t.Errorf("field %s is not in the README's table", f.Key)
		}
	}
	for k := range documented {
		if !logged[k] {
			t.Errorf("the README documents %s, which the session line never carries", k)
		}
	}
}
