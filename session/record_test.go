package session

import (
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
