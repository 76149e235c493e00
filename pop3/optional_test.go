package pop3

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

type sizedBody struct{ io.ReadCloser }

func (sizedBody) Size() int64 { return 42 }

func TestKeepSize(t *testing.T) {
	inner := sizedBody{io.NopCloser(strings.NewReader("x"))}
	outer := io.NopCloser(strings.NewReader("x"))
	if s, ok := KeepSize(outer, inner).(Sizer); !ok || s.Size() != 42 {
		t.Errorf("KeepSize lost the inner reader's size")
	}
	if _, ok := KeepSize(outer, io.NopCloser(strings.NewReader("x"))).(Sizer); ok {
		t.Errorf("KeepSize made up a size")
	}
}

type capsMailbox struct{ Mailbox }

func (capsMailbox) Caps() []string { return []string{"EXPIRE NEVER"} }

func TestCapsOf(t *testing.T) {
	if got := CapsOf(capsMailbox{}); !slices.Equal(got, []string{"EXPIRE NEVER"}) {
		t.Errorf("CapsOf = %q", got)
	}
	if got := CapsOf(struct{ Mailbox }{}); got != nil {
		t.Errorf("CapsOf of a plain Mailbox = %q", got)
	}
}

type apopOpener struct {
	Opener
	apop bool
}

func (o apopOpener) SupportsAPOP() bool { return o.apop }

func TestWrapOpenerKeepsAPOP(t *testing.T) {
	opened := false
	open := func(context.Context, Credentials) (Mailbox, error) { opened = true; return nil, nil }
	for _, apop := range []bool{true, false} {
		w := WrapOpener(apopOpener{apop: apop}, open)
		if SupportsAPOP(w) != apop {
			t.Errorf("wrapped SupportsAPOP = %v, want %v", !apop, apop)
		}
	}
	if SupportsAPOP(WrapOpener(OpenerFunc(open), open)) {
		t.Error("a wrapped Opener without APOP claims it")
	}
	if _, _ = WrapOpener(OpenerFunc(open), open).Open(context.Background(), Credentials{}); !opened {
		t.Error("the wrapper's Open did not call open")
	}
}
