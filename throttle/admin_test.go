package throttle

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestShowHandler(t *testing.T) {
	th, clock := newTest(t, nil, Options{})
	poll(t, th, "hog", 800<<20)
	clock.Advance(time.Minute)
	h := th.ShowHandler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/throttle?user=hog", nil))
	var got Report
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET ?user=hog: %d %q (%v)", rec.Code, rec.Body, err)
	}
	want := th.conf().level(10, 800<<20, time.Minute)
	if !got.Known || got.User != "hog" || got.Level != want || got.Bytes != 800<<20 || got.LastLevel != 0 ||
		got.LoginDelayMS != th.conf().loginDelay(want).Milliseconds() || !got.LastLogin.Equal(epoch) {
		t.Errorf("report = %+v, want level %d after a minute", got, want)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/throttle?user=nobody", nil))
	got = Report{}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Known || got.Level != 0 || got.User != "nobody" {
		t.Errorf("unknown user: %+v (%v)", got, err)
	}

	for _, tc := range []struct {
		method, url string
		code        int
	}{
		{http.MethodGet, "/throttle", http.StatusBadRequest},
		{http.MethodPost, "/throttle?user=hog", http.StatusMethodNotAllowed},
	} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.url, nil))
		if rec.Code != tc.code {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.url, rec.Code, tc.code)
		}
	}
}
