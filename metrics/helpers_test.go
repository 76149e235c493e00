package metrics

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// sample returns the value of the metric name with the given labels (a
// counter's or gauge's value, a histogram's sample count), or -1 if there
// is no such series.
func sample(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			if !hasLabels(s, labels) {
				continue
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue()
			case s.Gauge != nil:
				return s.Gauge.GetValue()
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

// want is a series and its expected value, -1 for "absent".
type want struct {
	name   string
	labels map[string]string
	value  float64
}

// checkSamples reports every series in wants whose value differs.
func checkSamples(t *testing.T, m *Metrics, wants []want) {
	t.Helper()
	for _, w := range wants {
		if got := sample(t, m, w.name, w.labels); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range s.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
