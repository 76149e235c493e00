package migrate

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports how much of the spools has been read: a bar redrawn in
// place on a terminal, otherwise a line every progressEvery.
type progress struct {
	w     io.Writer
	tty   bool
	total int64
	last  time.Time
	now   func() time.Time
	shown bool
}

const (
	progressEvery  = 5 * time.Second
	progressRedraw = 200 * time.Millisecond
	barWidth       = 30
)

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	p.last = p.now()
	return p
}

// update reports done bytes and msgs messages so far.
func (p *progress) update(done int64, msgs int) {
	if p.w == nil {
		return
	}
	every := progressEvery
	if p.tty {
		every = progressRedraw
	}
	if now := p.now(); now.Sub(p.last) >= every {
		p.last = now
		p.print(done, msgs)
	}
}

func (p *progress) print(done int64, msgs int) {
	pct := 100
	if p.total > 0 {
		pct = int(done * 100 / p.total)
	}
	if p.tty {
		n := pct * barWidth / 100
		bar := make([]byte, barWidth)
		for i := range bar {
			bar[i] = ' '
			if i < n {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\r[%s] %3d%% %d messages", bar, pct, msgs)
	} else {
		fmt.Fprintf(p.w, "import: %d%% read, %d messages\n", pct, msgs)
	}
	p.shown = true
}

// finish ends the bar's line.
func (p *progress) finish(done int64, msgs int) {
	if p.w == nil || !p.shown {
		return
	}
	p.print(done, msgs)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
