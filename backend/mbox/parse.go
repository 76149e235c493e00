// Package mbox reads and rewrites mbox spools the way popa3d and qpopper
// serve them: a message starts at a "From " line at the start of the file or
// after a blank line, and its bytes are served as stored (">From " quoting
// is not undone), with LF line ends turned into CRLF.
package mbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"hash"
	"io"

	"github.com/popgate/popgate/uidl"
)

// Msg locates one message in an mbox file.
type Msg struct {
	From    int64  // offset of the From_ line
	Data    int64  // offset of the first header byte (after the From_ line)
	DataEnd int64  // end of the served bytes: the separating blank line is excluded
	End     int64  // offset of the next From_ line, or of the end of the file
	Size    int64  // octets as RETR delivers them (CRLF line ends)
	UID     string // unique-id per the scheme, before duplicates are renamed
	// Hidden lists the store-only header lines not served (Config.Hide),
	// in file order; Size does not count them.
	Hidden []Span
}

// Span is a byte range of the file.
type Span struct{ Off, Len int64 }

// Config says how to parse.
type Config struct {
	Scheme uidl.Scheme
	// Hide leaves out the headers only mail stores use (StoreHeader).
	Hide bool
}

// Result is a parsed mbox region.
type Result struct {
	Msgs []Msg
	// Preamble is the number of bytes before the first From_ line when the
	// region starts at offset 0 and the file does not begin with "From ".
	// They are not served and are kept by rewrites.
	Preamble int64
	// Bytes is how many bytes were read: the parse work done.
	Bytes int64
}

const readBuf = 64 << 10

// Parse reads an mbox region from r, whose first byte is at offset base in
// the file. base must be 0 or the offset of a From_ line. It never holds more
// than one buffer of the file in memory, whatever the line lengths.
func Parse(r io.Reader, base int64, cfg Config) (Result, error) {
	p := parser{scheme: cfg.Scheme, hide: cfg.Hide, off: base, blank: true}
	br := bufio.NewReaderSize(r, readBuf)
	start := true
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			p.fragment(frag, start)
			start = frag[len(frag)-1] == '\n'
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Result{}, err
		}
	}
	p.finish(p.off)
	return Result{Msgs: p.msgs, Preamble: p.preamble, Bytes: p.off - base}, nil
}

type parser struct {
	scheme uidl.Scheme
	hide   bool
	off    int64 // offset of the next fragment
	msgs   []Msg
	cur    *Msg
	// preamble counts bytes before the first From_ line.
	preamble int64

	blank      bool // the last complete line was blank ("\n" or "\r\n")
	inFrom     bool // inside the From_ line
	header     bool // inside the header block
	lastByte   byte // last data byte, for bare-LF counting across fragments
	lastServed byte // last data byte served (not hidden)
	hiding     bool // the current header line is hidden
	// pending is a blank line held back: it is the separator if a From_
	// line or the end of the file follows, and data otherwise.
	pending []byte

	native hash.Hash
	popa3d *uidl.Popa3dHasher
	xuidl  string
}

func isBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

func (p *parser) fragment(frag []byte, start bool) {
	off := p.off
	p.off += int64(len(frag))
	end := frag[len(frag)-1] == '\n'

	if start && p.blank && bytes.HasPrefix(frag, []byte("From ")) {
		p.finish(off)
		p.msgs = append(p.msgs, Msg{From: off})
		p.cur = &p.msgs[len(p.msgs)-1]
		p.header, p.inFrom, p.blank, p.pending = true, true, false, p.pending[:0]
		p.lastByte, p.lastServed, p.hiding = '\n', '\n', false
		p.xuidl = ""
		if p.scheme != uidl.Popa3d {
			p.native = sha256.New()
		}
		if p.scheme == uidl.Popa3d {
			p.popa3d = uidl.NewPopa3d()
		}
	}
	if p.cur == nil {
		if off == 0 || p.preamble > 0 {
			p.preamble += int64(len(frag))
		}
		p.blank = start && isBlank(frag)
		return
	}
	if p.inFrom {
		if p.native != nil {
			p.native.Write(frag)
		}
		if end {
			p.inFrom = false
			p.cur.Data = p.off
		}
		return
	}
	lineBlank := start && isBlank(frag)
	if start && p.header {
		if lineBlank {
			p.header = false
			p.hiding = false
		} else if frag[0] != ' ' && frag[0] != '\t' {
			p.hiding = p.hide && StoreHeader(frag)
		}
		if !lineBlank && p.xuidl == "" && p.scheme == uidl.XUIDL {
			if v, ok := uidl.XUIDLValue(frag); ok {
				p.xuidl = v
				if !uidl.Valid(v) {
					p.xuidl = "\x00" // seen but unusable: only the first counts
				}
			}
		}
	}
	if p.header && p.popa3d != nil {
		p.popa3d.Write(frag, start)
	}
	if len(p.pending) > 0 {
		p.data(p.pending, false)
		p.pending = p.pending[:0]
	}
	if lineBlank {
		p.pending = append(p.pending, frag...)
	} else {
		p.data(frag, p.header && p.hiding)
	}
	if start {
		p.blank = lineBlank
	} else {
		p.blank = false
	}
}

// data accounts bytes of the current message; hidden ones are not served.
func (p *parser) data(b []byte, hidden bool) {
	c := p.cur
	off := c.Data + c.DataEnd // DataEnd counts bytes until finish
	n := int64(len(b))
	prev := p.lastByte
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 && prev != '\r' || i > 0 && b[i-1] != '\r' {
			n++
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if hidden {
		if k := len(c.Hidden); k > 0 && c.Hidden[k-1].Off+c.Hidden[k-1].Len == off {
			c.Hidden[k-1].Len += int64(len(b))
		} else {
			c.Hidden = append(c.Hidden, Span{off, int64(len(b))})
		}
	} else {
		c.Size += n
		p.lastServed = b[len(b)-1]
	}
	c.DataEnd += int64(len(b))
	p.lastByte = b[len(b)-1]
	if p.native != nil {
		p.native.Write(b)
	}
}

// finish completes the current message, which ends at offset end.
func (p *parser) finish(end int64) {
	c := p.cur
	if c == nil {
		return
	}
	if p.inFrom { // From_ line without a line end at the end of the file
		c.Data = end
	}
	c.End = end
	// DataEnd counted served bytes so far; make it an offset.
	c.DataEnd += c.Data
	if c.Size > 0 && p.lastServed != '\n' {
		if p.lastServed == '\r' {
			c.Size++
		} else {
			c.Size += 2
		}
	}
	switch p.scheme {
	case uidl.Popa3d:
		c.UID = p.popa3d.Sum()
	case uidl.XUIDL:
		if p.xuidl != "" && p.xuidl != "\x00" {
			c.UID = p.xuidl
			break
		}
		fallthrough
	default:
		c.UID = uidl.NativeID(p.native.Sum(nil))
	}
	p.cur, p.native, p.popa3d, p.pending = nil, nil, nil, p.pending[:0]
}

// storeHeaders are the headers that only mail stores write: qpopper
// (X-UIDL, Status), UW imapd and Dovecot (X-IMAP, X-IMAPbase, X-UID,
// X-Keywords, X-Status) and Content-Length from Solaris-style spools.
var storeHeaders = []string{"Status:", "X-Status:", "X-UIDL:", "X-IMAP:", "X-IMAPbase:", "X-UID:", "X-Keywords:", "Content-Length:"}

// StoreHeader reports whether a header line starts one of the store-only
// headers (case-insensitive).
func StoreHeader(line []byte) bool {
	for _, h := range storeHeaders {
		if len(line) >= len(h) && bytes.EqualFold(line[:len(h)], []byte(h)) {
			return true
		}
	}
	return false
}
